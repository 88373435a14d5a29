"""Thresholds and score normalisation: the post-processing step that lives outside the network.

The network and the scoring stages (:mod:`core.postprocess`) give raw maps and scores; :class:`ModeCalibration`
turns them into what users see. For each input
mode it keeps, from held-out good samples (never trained on):

- ``center``: the median raw image score of good parts;
- ``threshold``: the raw image score at the target false-reject rate (default 1 %), estimated from a normal fit
  of the log-scores, so it is smooth even with few samples, and never below their empirical quantile once there
  are enough of them. The fit's centre is the held-out scores' median; its spread is taken over the held-out
  scores **and the training images' scores** (each about its own median): the network has learnt the training
  images, so their scores sit lower, but their spread is much like an unseen part's, and from ten times as many
  images it is far steadier than the spread of the ten a fast training holds out (``train_scores``);
- ``pixel_center`` / ``pixel_threshold``: the same for map values; the pixel threshold is the F1-best value on
  synthetic defects when they exist, never below the 99.9th percentile of good pixels.

Noise-aware: a noisier frame (a darker exposure or a noisier sensor, :func:`core.lighting.estimate_noise`) makes
every score of a good part higher. Each mode fits, on its calibration views rendered under many sensor conditions,
how the log of good parts' raw scores rises with the log of their noise (:func:`fit_noise_slope`), and every raw
score and map is first divided by that expected rise at the frame's own noise (:meth:`ModeCalibration.level_factor`),
so the statistics above are of level-corrected scores and a noisier camera does not shift them all.

Normalised score = (raw / factor - center) / (threshold - center): **0 is a typical good part, 1.0 is the calibrated
threshold**. Maps are normalised the same way with the pixel pair. The state is plain numbers saved with the recipe
(``to_dict``/``from_dict``), as the last stage of the :class:`core.postprocess.PostProcessor`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

MIN_NOISE_SPREAD = 0.3
"""Least spread (standard deviation of the log noise) of the calibration views for a noise slope to be fitted: over a
narrower range the slope is mostly chance."""
MAX_NOISE_SLOPE = 2.0
"""Steepest noise slope kept (the log score's rise per unit of log noise)."""


@dataclass
class ModeCalibration:
    """Raw-scale statistics for one input mode."""

    center: float
    threshold: float
    pixel_center: float
    pixel_threshold: float
    good_scores: list[float] = field(default_factory=list)
    defect_scores: list[float] = field(default_factory=list)
    #: the good score's rise with the noise (d log score / d log noise); 0 = scores taken as they are
    noise_slope: float = 0.0
    #: the log noise at which the factor is 1 (the calibration views' median) and the range it is clamped to
    noise_ref: float = 0.0
    noise_lo: float = 0.0
    noise_hi: float = 0.0
    #: each held-out good view's relative noise, beside its score (its raw score = score x level_factor(noise))
    good_noise: list[float] = field(default_factory=list)
    #: level-corrected scores of training images' views, whose spread the threshold takes with the held-out ones'
    train_scores: list[float] = field(default_factory=list)

    def level_factor(self, noise: float | np.ndarray | None):
        """What a good part's raw score (and map) is expected to be multiplied by at relative ``noise``, against
        the calibration views' median noise; 1 where no slope was fitted or the noise is unknown."""
        if noise is None or self.noise_slope == 0.0:
            return 1.0 if noise is None or np.isscalar(noise) else np.ones(np.shape(noise))
        logs = np.clip(np.log(np.maximum(noise, 1e-9)), self.noise_lo, self.noise_hi)
        return np.exp(self.noise_slope * (logs - self.noise_ref))

    def normalize_score(self, raw: float | np.ndarray):
        """Normalised score of a level-corrected raw score (raw / :meth:`level_factor`)."""
        return (raw - self.center) / max(self.threshold - self.center, 1e-9)

    def denormalize_score(self, norm: float) -> float:
        return self.center + norm * (self.threshold - self.center)

    def normalize_map(self, raw: np.ndarray) -> np.ndarray:
        scale = max(self.pixel_threshold - self.pixel_center, 1e-9)
        return ((raw - self.pixel_center) / scale).astype(np.float32)

    def apply(self, raw_score: float, raw_map: np.ndarray, noise: float | None) -> tuple[float, np.ndarray]:
        """(normalised score, normalised map) of one frame's raw score and map at relative ``noise`` (``None``:
        unknown): both divided by :meth:`level_factor` first."""
        factor = float(self.level_factor(noise))
        return float(self.normalize_score(float(raw_score) / factor)), self.normalize_map(raw_map / factor)

    @classmethod
    def fit(cls, *args, **kwargs) -> ModeCalibration:
        """:func:`calibrate_mode`."""
        return calibrate_mode(*args, **kwargs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModeCalibration:
        return cls(**{f: d[f] for f in cls.__dataclass_fields__ if f in d})


def log_median_spread(scores) -> tuple[float, float]:
    """(median, spread) of the logs of ``scores`` (floored at 1e-9): the spread is the median absolute deviation
    scaled to a normal's standard deviation, or the standard deviation where most logs are equal. Robust to a
    few odd images among good ones."""
    logs = _logs(scores)
    median = float(np.median(logs))
    return median, _robust_spread(logs - median)


def _logs(scores) -> np.ndarray:
    """The logs of ``scores`` as a flat float64 array, the scores floored at 1e-9."""
    return np.log(np.clip(np.asarray(scores, dtype=np.float64).ravel(), 1e-9, None))


def _robust_spread(deviations: np.ndarray) -> float:
    """The median absolute value of ``deviations`` (from a median) scaled to a normal's standard deviation, or their
    standard deviation where most of them are 0."""
    spread = 1.4826 * float(np.median(np.abs(deviations)))
    if spread <= 0 and deviations.size > 1:
        spread = float(deviations.std(ddof=1))
    return spread


MIN_TRAIN_SCORES = 8
"""Fewest training scores for their spread to be pooled with the held-out scores'."""


def pooled_spread(held_out, train) -> float:
    """The spread (:func:`log_median_spread`) of the log ``held_out`` and ``train`` scores together, each group
    taken about its own median: the training scores sit lower (the network learnt those images) but vary alike."""
    return _robust_spread(np.concatenate([x - np.median(x) for x in (_logs(held_out), _logs(train))]))


def threshold_for_false_reject(good_scores: np.ndarray, rate: float = 0.01, train_scores=None) -> float:
    """Raw score above which a fraction ``rate`` of good parts is expected.

    A log-normal fitted robustly (median and median absolute deviation of the log scores), so one odd image among
    a few held-out ones cannot push the threshold up (with 10 held-out MTD tiles, one at 3 times the median had
    set a threshold no test tile of any kind reached). With ``train_scores`` (at least :data:`MIN_TRAIN_SCORES`),
    the spread is :func:`pooled_spread`'s. The empirical quantile of the held-out scores floors it once there are
    enough of them for that quantile to mean something (at least ``1 / rate``).
    """
    s = np.asarray(good_scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ValueError("no good scores to calibrate on")
    if s.size <= 2:
        return float(s.max() * 1.1)
    median, spread = log_median_spread(s)
    if train_scores is not None:
        t = np.asarray(train_scores, dtype=np.float64).ravel()
        t = t[np.isfinite(t)]
        if t.size >= MIN_TRAIN_SCORES:
            spread = pooled_spread(s, t)
    fitted = float(np.exp(median + NormalDist().inv_cdf(1 - rate) * spread))
    if s.size * rate >= 1:
        fitted = max(fitted, float(np.quantile(s, 1 - rate)))
    return fitted


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``score >= threshold`` against boolean ``labels``."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    if labels.sum() == 0 or labels.sum() == labels.size:
        return float(np.median(scores)), 0.0
    order = np.argsort(-scores)
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    precision = tp / (tp + fp)
    recall = tp / labels.sum()
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    # only positions where the score changes are valid cut points
    valid = np.r_[s[1:] != s[:-1], True]
    f1 = np.where(valid, f1, -1)
    i = int(np.argmax(f1))
    return float(s[i]), float(f1[i])


PIXEL_SAMPLE = 2_000_000
"""Most map values a pixel statistic is taken over: every n-th value of the maps beyond it."""


def _thinned(values: np.ndarray) -> np.ndarray:
    """Every n-th of the flat ``values``, n the smallest that keeps at most :data:`PIXEL_SAMPLE` of them."""
    return values[:: values.size // PIXEL_SAMPLE + 1]


def fit_noise_slope(good_scores, noise) -> tuple[float, float, float, float]:
    """(slope, reference, low, high) of ``log score = a + slope * log noise`` on good views, by least squares,
    the slope kept in [0, :data:`MAX_NOISE_SLOPE`]; reference is the median log noise and low/high the range seen
    (the factor is clamped to it). A slope of 0 where the views' noise spreads too little (:data:`MIN_NOISE_SPREAD`)
    or there are fewer than 8 of them."""
    scores = np.asarray(good_scores, np.float64).ravel()
    logs_n = np.log(np.maximum(np.asarray(noise, np.float64).ravel(), 1e-9))
    ok = np.isfinite(scores) & (scores > 0) & np.isfinite(logs_n)
    logs_s, logs_n = np.log(scores[ok]), logs_n[ok]
    if logs_n.size == 0:
        return 0.0, 0.0, 0.0, 0.0
    ref, lo, hi = float(np.median(logs_n)), float(logs_n.min()), float(logs_n.max())
    if logs_n.size < 8 or logs_n.std() < MIN_NOISE_SPREAD:
        return 0.0, ref, lo, hi
    centred = logs_n - logs_n.mean()
    slope = float(np.dot(centred, logs_s - logs_s.mean()) / np.dot(centred, centred))
    return float(np.clip(slope, 0.0, MAX_NOISE_SLOPE)), ref, lo, hi


def _per_view(maps: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``maps`` (views first, any further axes: whole maps or a mask's inside pixels) each divided by its factor."""
    return maps / factor.astype(np.float32).reshape((-1,) + (1,) * (maps.ndim - 1))


def calibrate_mode(
    good_scores: np.ndarray,
    good_maps: np.ndarray,
    defect_scores: np.ndarray | None = None,
    defect_maps: np.ndarray | None = None,
    defect_masks: np.ndarray | None = None,
    false_reject_rate: float = 0.01,
    good_noise: np.ndarray | None = None,
    defect_noise: np.ndarray | None = None,
    train_scores: np.ndarray | None = None,
    train_noise: np.ndarray | None = None,
) -> ModeCalibration:
    """Statistics for one mode from held-out good samples and, optionally, synthetic defects and training images'
    scores (``train_scores``, for the threshold's spread). With each view's relative noise (``good_noise``,
    ``defect_noise``, ``train_noise``), the scores' rise with the noise is fitted first (on the held-out views) and
    every score and map corrected for it (see the module docstring)."""
    level = ModeCalibration(0.0, 1.0, 0.0, 1.0)
    if good_noise is not None:
        slope, ref, lo, hi = fit_noise_slope(good_scores, good_noise)
        level = ModeCalibration(0.0, 1.0, 0.0, 1.0, noise_slope=slope, noise_ref=ref, noise_lo=lo, noise_hi=hi)
        factor = np.asarray(level.level_factor(np.asarray(good_noise, np.float64)))
        good_scores = np.asarray(good_scores, np.float64) / factor
        good_maps = _per_view(np.asarray(good_maps, np.float32), factor)
        if defect_scores is not None and defect_noise is not None:
            factor = np.asarray(level.level_factor(np.asarray(defect_noise, np.float64)))
            defect_scores = np.asarray(defect_scores, np.float64) / factor
            if defect_maps is not None:
                defect_maps = _per_view(np.asarray(defect_maps, np.float32), factor)
        if train_scores is not None and train_noise is not None:
            train_scores = np.asarray(train_scores, np.float64) / np.asarray(
                level.level_factor(np.asarray(train_noise, np.float64))
            )
    good_scores = np.asarray(good_scores, dtype=np.float64)
    threshold = threshold_for_false_reject(good_scores, false_reject_rate, train_scores)
    center = float(np.median(good_scores))
    if threshold <= center:
        threshold = center + 1e-6
    pix = _thinned(np.asarray(good_maps, dtype=np.float32).ravel())
    pixel_center = float(np.median(pix))
    pixel_floor = float(np.quantile(pix, 0.999))
    pixel_threshold = pixel_floor
    if defect_maps is not None and defect_masks is not None and np.asarray(defect_masks).any():
        dm = _thinned(np.asarray(defect_maps, dtype=np.float32).ravel())
        dk = _thinned(np.asarray(defect_masks, dtype=bool).ravel())
        t, _ = best_f1_threshold(np.r_[dm, pix], np.r_[dk, np.zeros(pix.size, bool)])
        pixel_threshold = max(t, pixel_floor)
    if pixel_threshold <= pixel_center:
        pixel_threshold = pixel_center + 1e-6
    return ModeCalibration(
        center=center,
        threshold=float(threshold),
        pixel_center=pixel_center,
        pixel_threshold=float(pixel_threshold),
        good_scores=[float(x) for x in good_scores],
        defect_scores=[] if defect_scores is None else [float(x) for x in np.asarray(defect_scores)],
        noise_slope=level.noise_slope,
        noise_ref=level.noise_ref,
        noise_lo=level.noise_lo,
        noise_hi=level.noise_hi,
        good_noise=[] if good_noise is None else [float(x) for x in np.asarray(good_noise)],
        train_scores=[] if train_scores is None else [float(x) for x in np.asarray(train_scores).ravel()],
    )
