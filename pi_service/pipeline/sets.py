"""Reps and holds grouped into sets by the rest between them.

Within a set people pause a few seconds between reps; between sets the
protocol prescribes a minute or more. A gap of a quarter of the stage's rest
(at least ``MIN_GAP_S``) with nothing counted closes the set, on the sensor clock.
"""

from __future__ import annotations

from ..protocol import Stage
from .events import Hold, Rep, SetSummary, Verdict

REST_SHARE = 0.25
MIN_GAP_S = 10.0


def set_gap_s(stage: Stage) -> float:
    """Time without reps that ends a set."""
    return max(MIN_GAP_S, REST_SHARE * stage.rest_between_sets_s)


class SetTracker:
    """Collects reps and holds into the open set and closes it after a long enough rest."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.gap_s = set_gap_s(stage)
        self._items: list[Rep | Hold] = []
        self._spans: list[tuple[float, float]] = []
        self._last_end_s: float | None = None
        self._index = 0

    @property
    def due_s(self) -> float:
        """Sensor time after which the open set closes (inf with no open set)."""
        if not self._items:
            return float("inf")
        return self._spans[-1][1] + self.gap_s

    def add(self, item: Rep | Hold, span_s: tuple[float, float]) -> None:
        """Add a rep or hold that took place over ``span_s`` (start, end; always known)."""
        self._items.append(item)
        self._spans.append(span_s)

    def close(self) -> SetSummary | None:
        """Close the open set (the rest was long enough, or the session ended)."""
        if not self._items:
            return None
        items, self._items = self._items, []
        spans, self._spans = self._spans, []
        reps = [i for i in items if isinstance(i, Rep)]
        holds = [i for i in items if isinstance(i, Hold)]
        ok_reps = sum(r.verdict == Verdict.OK for r in reps)
        ok = ok_reps + sum(h.verdict == "ok" for h in holds)
        # a hold a gap cut short has no verdict: it is neither in range nor out of it
        judged = len(reps) + sum(h.verdict is not None for h in holds)
        start_s = min(s for s, _ in spans)
        end_s = max(e for _, e in spans)
        rest = None if self._last_end_s is None else start_s - self._last_end_s
        self._last_end_s = end_s
        self._index += 1
        return SetSummary(
            index=self._index,
            stage=self.stage.number,
            start_s=start_s,
            end_s=end_s,
            reps=len(reps),
            target_reps=self.stage.reps,
            ok_reps=ok_reps,
            tempo_compliance=ok / judged if judged else None,
            rest_before_s=rest,
            holds=len(holds),
            hold_s=tuple(h.hold_s for h in holds),
            rep_indices=tuple(r.index for r in reps),
        )
