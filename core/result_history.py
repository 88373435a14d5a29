"""The inspections of a running session as a workstation remembers them: the latest scores and verdicts (enough
to list, re-decide and plot them when a threshold moves) and the last few results with their images (to show one
again), plus the rate at which they arrive.

Qt-free, so the Inspect page only displays what this keeps and a test can check the bookkeeping without a window.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from core.types import InspectionResult, Thresholds, Verdict, decide

HISTORY = 200
"""Scores kept for the trend and re-deciding."""
KEEP_FULL = 30
"""Results kept with their images (to show again from the table)."""


@dataclass
class HistoryEntry:
    """What is remembered of one inspection without its images (enough to re-decide and list it)."""

    key: int
    when: float
    ref: str
    score: float
    verdict: Verdict
    error: str = ""
    reason: str = ""  # why it is CHECK whatever its score (lighting outside the model's range)

    def decided(self, thresholds: Thresholds) -> Verdict:
        """The verdict under ``thresholds`` (an ERROR stays one)."""
        return self.verdict if self.verdict is Verdict.ERROR else decide(thresholds, self.score, self.reason)


class ResultHistory:
    """The latest ``limit`` entries, oldest first (a sequence), and the latest ``keep_full`` whole results."""

    def __init__(self, limit: int = HISTORY, keep_full: int = KEEP_FULL) -> None:
        self.entries: deque[HistoryEntry] = deque(maxlen=limit)
        self.full: OrderedDict[int, InspectionResult] = OrderedDict()
        self.keep_full = keep_full
        self._key = 0

    def add(self, result: InspectionResult) -> HistoryEntry:
        """Remember ``result``; returns its entry (its ``key`` finds the whole result while it is kept)."""
        self._key += 1
        frame = result.frame
        ref = frame.ref if frame is not None and frame.ref else (frame.source if frame is not None else "")
        when = frame.timestamp if frame is not None else time.time()
        entry = HistoryEntry(self._key, when, ref, result.score, result.verdict, result.error, result.reason)
        self.entries.append(entry)
        self.full[self._key] = result
        while len(self.full) > self.keep_full:
            self.full.popitem(last=False)
        return entry

    def result(self, key: int) -> InspectionResult | None:
        """The whole result of entry ``key``, or None once it is no longer kept."""
        return self.full.get(key)

    def by_key(self) -> dict[int, HistoryEntry]:
        return {e.key: e for e in self.entries}

    def scores(self) -> list[float]:
        return [e.score for e in self.entries]

    def verdicts(self, thresholds: Thresholds) -> list[Verdict]:
        """Every entry's verdict under ``thresholds``, oldest first."""
        return [e.decided(thresholds) for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> HistoryEntry:
        return self.entries[i]

    def __iter__(self) -> Iterator[HistoryEntry]:
        return iter(self.entries)


class RateMeter:
    """Results a second over the last ``window`` seconds."""

    def __init__(self, window: float = 3.0, size: int = 30) -> None:
        self.window = window
        self._times: deque[float] = deque(maxlen=size)

    def tick(self, now: float | None = None) -> float:
        """Count one result (at ``now``, monotonic seconds) and return the rate."""
        now = time.monotonic() if now is None else now
        self._times.append(now)
        recent = [t for t in self._times if now - t <= self.window]
        if len(recent) > 1 and recent[-1] > recent[0]:
            return (len(recent) - 1) / (recent[-1] - recent[0])
        return 0.0
