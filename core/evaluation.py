"""Evaluate a predictor on a labelled set: image and pixel AUROC, AUPRO, confusion and F1 at the threshold.

Used by ``llad eval``, the GUI's evaluation page and the benchmark. With ``lowlight_strength`` set, every test
image is first turned into a seeded synthetic low-light capture, which is how the benchmark's low-light test
set is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.data.datasets import Sample
from core.data.io import ImageLoadError, load_image
from core.data.lowlight import synthesize_lowlight
from core.metrics import aupro, auroc, confusion, f1_from_confusion
from core.types import Frame, InputMode, Verdict

EVAL_SEED = 1234
"""Seed of the synthetic darkening: image ``i`` of a set is darkened with ``EVAL_SEED + i``."""
PIXEL_EVAL_SIZE = 128
"""Maps and masks are compared at this resolution: pixel metrics change in the third decimal, memory by 4x."""


@dataclass
class ImageRow:
    """One evaluated image."""

    path: str
    label: int
    defect_type: str
    score: float
    verdict: str
    ms: float


@dataclass
class EvalReport:
    """Metrics and per-image rows."""

    image_auroc: float
    pixel_auroc: float
    aupro: float
    f1: float
    confusion: dict[str, int]
    counts: dict[str, int]
    ms_per_image: float
    threshold: float
    rows: list[ImageRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self, rows: bool = False) -> dict:
        d = {
            "image_auroc": self.image_auroc,
            "pixel_auroc": self.pixel_auroc,
            "aupro": self.aupro,
            "f1": self.f1,
            "confusion": self.confusion,
            "counts": self.counts,
            "ms_per_image": self.ms_per_image,
            "threshold": self.threshold,
            "errors": self.errors,
        }
        if rows:
            d["images"] = [r.__dict__ for r in self.rows]
        return d


def _mask(sample: Sample, shape: tuple[int, int]) -> np.ndarray:
    if sample.mask is None:
        return np.zeros(shape, bool) if sample.label == 0 else None
    m = load_image(sample.mask)[:, :, 0]
    return cv2.resize(m, shape[::-1], interpolation=cv2.INTER_NEAREST) > 127


def load_test_image(
    sample: Sample, index: int, lowlight_strength: float | None = None, seed: int = EVAL_SEED
) -> np.ndarray:
    """The image of ``sample`` (the ``index``-th of its set) as :func:`evaluate` feeds it to the model: darkened
    with the seed of its place in the set when ``lowlight_strength`` is set, so one image can be shown again
    exactly as it was evaluated."""
    img = load_image(sample.path)
    if lowlight_strength is not None:
        img, _ = synthesize_lowlight(img, lowlight_strength, seed + index)
    return img


def evaluate(
    predictor,
    samples: Sequence[Sample],
    *,
    mode: InputMode | None = None,
    lowlight_strength: float | None = None,
    seed: int = EVAL_SEED,
    batch_size: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> EvalReport:
    """Run ``predictor`` on every sample and compute the metrics (see the module docstring)."""
    rows: list[ImageRow] = []
    errors: list[str] = []
    maps, masks = [], []
    total_ms = 0.0
    n = len(samples)
    for start in range(0, n, batch_size):
        if cancel is not None and cancel():
            break
        chunk = samples[start : start + batch_size]
        frames, kept = [], []
        for k, s in enumerate(chunk):
            try:
                img = load_test_image(s, start + k, lowlight_strength, seed)
                partner = load_image(s.partner) if s.partner is not None else None
            except ImageLoadError as exc:
                errors.append(str(exc))
                continue
            frames.append(Frame(img, source="eval", ref=str(s.path), partner=partner))
            kept.append(s)
        if not frames:
            continue
        t0 = time.perf_counter()
        results = predictor.predict_batch(frames, mode)
        ms = (time.perf_counter() - t0) * 1000 / len(frames)
        total_ms += ms * len(frames)
        for s, r in zip(kept, results):
            rows.append(ImageRow(str(s.path), s.label, s.defect_type, r.score, r.verdict.value, ms))
            small = cv2.resize(r.anomaly_map, (PIXEL_EVAL_SIZE, PIXEL_EVAL_SIZE), interpolation=cv2.INTER_AREA)
            m = _mask(s, (PIXEL_EVAL_SIZE, PIXEL_EVAL_SIZE))
            if m is not None:
                maps.append(small)
                masks.append(m)
        if on_progress is not None:
            on_progress(min(start + batch_size, n), n)
    scores = np.array([r.score for r in rows])
    labels = np.array([r.label for r in rows])
    ng = np.array([r.verdict in (Verdict.NG.value, Verdict.UNCERTAIN.value) for r in rows], bool)
    conf = confusion(ng, labels.astype(bool)) if rows else {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    pix_auc = pro = float("nan")
    if masks and np.any([m.any() for m in masks]):
        M, K = np.stack(maps), np.stack(masks)
        pix_auc = auroc(M.ravel(), K.ravel())
        pro = aupro(M, K)
    return EvalReport(
        image_auroc=auroc(scores, labels) if rows else float("nan"),
        pixel_auroc=pix_auc,
        aupro=pro,
        f1=f1_from_confusion(conf),
        confusion=conf,
        counts={"good": int((labels == 0).sum()), "defective": int((labels == 1).sum()), "unreadable": len(errors)},
        ms_per_image=total_ms / max(1, len(rows)),
        threshold=float(predictor.thresholds.image),
        rows=rows,
        errors=errors,
    )
