"""The Inspect page's memory of results, without Qt: entries re-decided by new thresholds (ERROR and a lighting
reason kept), whole results kept only for the latest few, and the arrival rate."""

from __future__ import annotations

import numpy as np

from core.lighting import TOO_DARK
from core.result_history import RateMeter, ResultHistory
from core.types import Frame, InputMode, InspectionResult, Thresholds, Verdict


def _result(i: int, score: float, verdict: Verdict, reason: str = "", error: str = "") -> InspectionResult:
    frame = Frame(np.zeros((4, 4, 3), np.uint8), source="folder", ref=f"/line/{i:03d}.png", timestamp=1000.0 + i)
    t = Thresholds(image=1.0, pixel=1.0, uncertain_band=0.0)
    return InspectionResult(
        score, score, verdict, np.zeros((4, 4)), None, t, InputMode.WELLLIT, frame=frame, reason=reason, error=error
    )


def test_entries_are_redecided_and_only_the_latest_results_kept_whole():
    history = ResultHistory(limit=5, keep_full=2)
    results = [
        _result(0, 0.5, Verdict.OK),
        _result(1, 1.5, Verdict.NG),
        _result(2, float("nan"), Verdict.ERROR, error="unreadable"),
        _result(3, 0.4, Verdict.UNCERTAIN, reason=TOO_DARK),
        _result(4, 0.9, Verdict.OK),
        _result(5, 1.2, Verdict.NG),
    ]
    entries = [history.add(r) for r in results]
    assert len(history) == 5 and [e.ref for e in history] == [f"/line/{i:03d}.png" for i in range(1, 6)]
    assert history[0].key == entries[1].key and history[-1].when == 1005.0
    assert history.result(entries[5].key) is results[5] and history.result(entries[4].key) is results[4]
    assert history.result(entries[3].key) is None  # no longer kept with its image
    # a lower threshold: scores re-decided, the error stays an error, the too-dark frame stays CHECK
    lower = Thresholds(image=0.8, pixel=0.8, uncertain_band=0.0)
    assert history.verdicts(lower) == [Verdict.NG, Verdict.ERROR, Verdict.UNCERTAIN, Verdict.NG, Verdict.NG]
    higher = Thresholds(image=2.0, pixel=2.0, uncertain_band=0.0)
    assert history.verdicts(higher) == [Verdict.OK, Verdict.ERROR, Verdict.UNCERTAIN, Verdict.OK, Verdict.OK]
    assert set(history.by_key()) == {e.key for e in entries[1:]}


def test_rate_counts_results_over_the_last_seconds():
    meter = RateMeter(window=3.0)
    assert meter.tick(10.0) == 0.0
    for t in (10.5, 11.0, 11.5):
        rate = meter.tick(t)
    assert rate == 2.0  # 4 results over 1.5 s
    assert meter.tick(20.0) == 0.0  # the earlier ones are out of the window
