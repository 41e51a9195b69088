"""The board's ``time`` for the tests: a virtual clock that moves only when code waits.

Sleeps (and the fake socket's and Wi-Fi's waits) advance it, and on the way fire
the soft timers of the fake ``machine.Timer`` and the scenario's events in time
order, as a soft IRQ fires inside blocking calls on a real board. ticks wrap at
2**30 like the ports', and start 30 s before ticks_us wraps, so the firmware's
wrap handling is exercised. ``realtime(True)`` makes it follow the real clock.
"""

import utime as _real

PERIOD = 1 << 30
_now = PERIOD - 30000000   # virtual µs
_real_base = None          # (real ticks_us at the switch, virtual µs then)
EPOCH_AT = None            # (host epoch ns, virtual µs) at the switch to real time
_timers = []               # [due µs, period µs, callback, owner]
_events = []               # [due µs, function]
_firing = False


class Stop(BaseException):
    """The scenario is over (not an Exception, so the firmware's handlers pass it on)."""


def realtime(on):
    """Follow the real clock from now on (benchmarks), or stop following it."""
    global _real_base, EPOCH_AT
    _real_base = (_real.ticks_us(), now_us()) if on else None
    if on:
        EPOCH_AT = (_real.time_ns(), now_us())


def now_us():
    if _real_base is None:
        return _now
    return _real_base[1] + _real.ticks_diff(_real.ticks_us(), _real_base[0])


def seconds():
    return now_us() / 1e6


def ticks_us():
    return now_us() % PERIOD


def ticks_cpu():
    return ticks_us()


def ticks_ms():
    return (now_us() // 1000) % PERIOD


def ticks_diff(a, b):
    return ((a - b + PERIOD // 2) % PERIOD) - PERIOD // 2


def ticks_add(a, delta):
    return (a + delta) % PERIOD


def time():
    return 1700000000 + now_us() // 1000000


def time_ns():
    return (1700000000 * 1000000 + now_us()) * 1000


def at(t_us, fn):
    """Run ``fn()`` when virtual time reaches ``t_us`` (from inside a wait)."""
    _events.append([t_us, fn])


def add_timer(owner, period_us, callback):
    remove_timer(owner)
    _timers.append([now_us() + period_us, period_us, callback, owner])


def remove_timer(owner):
    _timers[:] = [t for t in _timers if t[3] is not owner]


def _next_due():
    due = [t[0] for t in _timers] + [e[0] for e in _events]
    return min(due) if due else None


def _fire(upto):
    """Fire everything due by ``upto``, in time order (not from inside a callback)."""
    global _now, _firing
    if _firing:
        return
    _firing = True
    try:
        while True:
            due = _next_due()
            if due is None or due > upto:
                return
            if _real_base is None:
                _now = max(_now, due)
            for e in _events:
                if e[0] == due:
                    _events.remove(e)
                    e[1]()
                    break
            else:
                for t in _timers:
                    if t[0] == due:
                        t[0] += t[1]
                        t[2](t[3])
                        break
    finally:
        _firing = False


def advance(us):
    """Let ``us`` pass: virtual time jumps, real time is slept in steps."""
    global _now
    if _real_base is None:
        target = _now + max(0, int(us))
        _fire(target)
        _now = max(_now, target)
        return
    end = now_us() + us
    while True:
        _fire(now_us())
        left = end - now_us()
        if left <= 0:
            return
        due = _next_due()
        step = left if due is None else max(0, min(left, due - now_us()))
        _real.sleep_us(min(step, 2000))


def sleep_us(us):
    advance(us)


def sleep_ms(ms):
    advance(ms * 1000)


def sleep(s):
    advance(int(s * 1000000))
