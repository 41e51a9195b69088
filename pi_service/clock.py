"""Whether the wall clock has been set: a Pi has no battery clock, and without network
time it starts near 1970 or at its last saved time.

The log keeps every set whatever its time, but marks sets stamped by an unset clock
as unsynchronised, so a clinician reading the log knows their dates are wrong.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
"""systemd-timesyncd touches this on each successful synchronisation."""

_TIME_ERROR = 5
"""adjtimex(2): the clock is not synchronised."""


def clock_synced(flag: Path = TIMESYNC_FLAG) -> bool | None:
    """True when the kernel (or timesyncd) says the clock is synchronised, False when the
    kernel says it is not, None when neither can tell (a sandbox may forbid adjtimex)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = ctypes.create_string_buffer(512)   # struct timex; modes = 0 only reads
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        state = -1
    if state >= 0:
        return state != _TIME_ERROR
    return True if flag.exists() else None
