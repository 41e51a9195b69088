"""The schema engine: what it refuses at the door, so nothing downstream overflows or recurses."""

from __future__ import annotations

import json

import pytest

from pi_service import payloads as P
from pi_service import schema as S
from pi_service.mqtt_docs import examples

SET = examples()["set"]


def raw_set(**changes) -> bytes:
    return json.dumps({**SET, **changes}).encode()


@pytest.mark.parametrize(("raw", "message"), [
    (b"[" * 5000 + b"]" * 5000, "set: payload is nested deeper than 32 levels"),
    (json.dumps({**SET, "extra": json.loads("[" * 40 + "]" * 40)}).encode(),
     "set: payload is nested deeper than 32 levels"),
    (raw_set(reps=0).replace(b'"reps": 0', b'"reps": ' + b"9" * 400),
     "set: payload has an integer longer than 30 digits"),
    (raw_set(load_kg=0).replace(b'"load_kg": 0', b'"load_kg": 1e400'),
     "set: payload has a number too large for a float"),
    (raw_set().replace(b'"pain": 2', b'"pain": Infinity'),
     "set: payload has Infinity, which is not JSON"),
    (raw_set().replace(b'"pain": 2', b'"pain": 2, "pain": 9'),
     "set: payload has the key 'pain' twice"),
])
def test_hostile_json_is_refused_in_one_line(raw, message):
    with pytest.raises(P.PayloadError) as exc:
        P.validate("set", raw)
    assert str(exc.value) == message


@pytest.mark.parametrize(("changes", "message"), [
    ({"reps": 10 ** 19}, "set: 'reps' must be in 0..100000, got 10000000000000000000"),
    ({"load_kg": 1e308}, "set: 'load_kg' must be in 0..500, got 1e+308"),
    ({"time": "0001-01-01T00:00:00Z"}, "set: 'time' must be a time from 1970 to 2099, "
                                       "got '0001-01-01T00:00:00Z'"),
    ({"time": "20260131T070000Z"}, "set: 'time' must be RFC 3339 UTC like "
                                   "2026-01-31T07:05:00.250Z, got '20260131T070000Z'"),
    ({"time": "2026-01-31T07:00:00+00:00"}, "set: 'time' must be RFC 3339 UTC like "
                                            "2026-01-31T07:05:00.250Z, "
                                            "got '2026-01-31T07:00:00+00:00'"),
    ({"session": "\ud800"}, "set: 'session' must be valid Unicode (a lone surrogate)"),
    ({"id": "x" * 65}, "set: 'id' must be at most 64 characters, got 65"),
    ({"rep_detail": [SET["rep_detail"][0]] * (P.MAX_DETAIL + 1)},
     f"set: 'rep_detail' must have 0..{P.MAX_DETAIL} items, got {P.MAX_DETAIL + 1}"),
])
def test_values_are_range_checked_so_nothing_downstream_overflows(changes, message):
    with pytest.raises(P.PayloadError) as exc:
        P.validate("set", raw_set(**changes))
    assert str(exc.value) == message


def test_a_reason_leaves_out_the_index_and_the_value():
    detail = [dict(SET["rep_detail"][0], up_s=-i) for i in range(1, 4)]
    reasons = set()
    for n in range(3):
        with pytest.raises(P.PayloadError) as exc:
            P.validate("set", raw_set(rep_detail=[*SET["rep_detail"][:n], detail[n]]))
        reasons.add(exc.value.reason)
    assert reasons == {"set: 'rep_detail[].up_s' must be in 0..86400"}


def test_error_messages_stay_one_short_line_whatever_the_value():
    with pytest.raises(P.PayloadError) as exc:
        P.validate("set", raw_set(verdict_of_day="x", device="a\nb" * 10_000))
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 200


def test_parsed_times_order_as_times_and_format_back_the_same():
    t = S.parse_time("2026-01-31T07:05:00.25Z")
    assert S.format_time(t) == "2026-01-31T07:05:00.250Z"
    assert S.parse_time("2026-01-31T07:05:00Z") < t


def test_a_spec_without_bounds_cannot_be_written():
    with pytest.raises(ValueError, match="needs both bounds"):
        S.Field("number", "unbounded")
    with pytest.raises(ValueError, match="needs items and max_items"):
        S.Field("array", "endless", items=S.string(""))


def test_tables_reject_unknown_keys_and_either_names_the_fitting_shape():
    spec = S.table("t", {"pin": S.either("a pin number or name", S.integer("", 0, 40),
                                         S.string("", max_len=10), required=False)})
    S.check(spec, {"pin": 17})
    S.check(spec, {"pin": "GPIO17"})
    with pytest.raises(S.SchemaError, match=r"'pin' must be in 0..40, got 99"):
        S.check(spec, {"pin": 99})
    with pytest.raises(S.SchemaError, match=r"'pin' must be a pin number or name, got \[1\]"):
        S.check(spec, {"pin": [1]})
    with pytest.raises(S.SchemaError, match=r"'led' is not a known key \(known: pin\)"):
        S.check(spec, {"led": 1})
