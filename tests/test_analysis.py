"""Offline analysis: the DESIGN.md JSON shape, and agreement with the live pipeline."""

from __future__ import annotations

import json

from pi_service.pipeline import Pipeline, Rep, analyze
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


def test_analysis_json_has_the_documented_shape():
    sim = simulate(2, 11, 50.0, walking=False, n_sets=2)
    out = json.loads(json.dumps(analyze(sim.block, load_stage(2)).to_json()))
    assert set(out) == {"reps", "partials", "holds", "sets", "gaps", "warnings"}
    assert out["warnings"] == []
    assert out["reps"] and out["partials"] and len(out["sets"]) == 2
    for rep in out["reps"]:
        assert {"start_s", "top_s", "lower_s", "end_s", "up_s", "hold_s", "down_s",
                "peak_deg", "bottom_deg", "verdict", "height_cm"} <= set(rep)
        assert rep["start_s"] <= rep["top_s"] <= rep["lower_s"] <= rep["end_s"]
        assert isinstance(rep["verdict"], str)
    for partial in out["partials"]:
        assert {"start_s", "end_s", "peak_deg"} <= set(partial)
    for summary in out["sets"]:
        assert {"start_s", "end_s", "reps"} <= set(summary)
    assert sum(s["reps"] for s in out["sets"]) == len(out["reps"])


def test_holds_appear_in_the_json():
    sim = simulate(1, 8, 50.0, walking=False, n_sets=1)
    out = analyze(sim.block, load_stage(1)).to_json()
    assert len(out["holds"]) == 1 and out["reps"] == []
    assert {"start_s", "end_s", "hold_s"} <= set(out["holds"][0])


def test_height_follows_the_lever_and_the_peak():
    sim = simulate(2, 1, 50.0, walking=False, n_sets=1)
    result = analyze(sim.block, load_stage(2))
    for rep in result.reps:
        assert 4.0 < rep.height_cm < 12.0


def test_offline_analysis_agrees_with_the_live_pipeline():
    sim = simulate(4, 13, 50.0, walking=True, n_sets=2)
    live = Pipeline(load_stage(4))
    reps = []
    for block in sim.block.split(7):
        reps += [e for e in live.feed(block) if isinstance(e, Rep)]
    reps += [e for e in live.finish() if isinstance(e, Rep)]
    offline = analyze(sim.block, load_stage(4))
    assert offline.reps == reps
    assert len(reps) == len(sim.truth.reps)
