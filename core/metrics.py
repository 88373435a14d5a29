"""Evaluation metrics, in NumPy: image and pixel AUROC, AUPRO, F1 and the confusion matrix.

AUPRO is computed exactly from one sort: the per-region overlap at a threshold equals the sum, over defect
pixels scoring at least that threshold, of 1 / (number of regions x size of the pixel's region), so its curve
against the false-positive rate of good pixels is a cumulative sum. It is integrated up to FPR 0.3 and divided
by 0.3, the usual convention.
"""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half). NaN when one class is absent."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=bool).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    boundaries = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1, s.size]
    for a, b in zip(boundaries[:-1], boundaries[1:]):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def aupro(maps: np.ndarray, masks: np.ndarray, max_fpr: float = 0.3) -> float:
    """Normalised area under the per-region-overlap curve up to ``max_fpr``. NaN without defect regions."""
    import cv2

    maps = np.asarray(maps, dtype=np.float32)
    masks = np.asarray(masks, dtype=bool)
    weights = np.zeros(masks.shape, dtype=np.float64)
    regions = []
    for i in range(masks.shape[0]):
        if masks[i].any():
            n, labels = cv2.connectedComponents(masks[i].astype(np.uint8), connectivity=8)
            for r in range(1, n):
                sel = labels == r
                regions.append((i, sel))
    if not regions:
        return float("nan")
    for i, sel in regions:
        weights[i][sel] = 1.0 / (len(regions) * sel.sum())
    s = maps.ravel()
    w = weights.ravel()
    bg = ~masks.ravel()
    order = np.argsort(-s, kind="mergesort")
    s, w, bg = s[order], w[order], bg[order]
    pro = np.cumsum(w)
    fpr = np.cumsum(bg) / max(int(bg.sum()), 1)
    last = np.r_[s[1:] != s[:-1], True]  # evaluate only where the threshold changes
    fpr, pro = np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]
    keep = fpr <= max_fpr
    f, p = fpr[keep], pro[keep]
    if f[-1] < max_fpr:  # interpolate the curve at max_fpr
        j = np.searchsorted(fpr, max_fpr)
        if j < fpr.size:
            t = (max_fpr - fpr[j - 1]) / max(fpr[j] - fpr[j - 1], 1e-12)
            f = np.r_[f, max_fpr]
            p = np.r_[p, pro[j - 1] + t * (pro[j] - pro[j - 1])]
    return float(np.trapezoid(p, f) / max_fpr)


def confusion(pred_ng: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    """Counts with NG as the positive class: tp (defect caught), fp (good rejected), tn, fn (defect missed)."""
    p = np.asarray(pred_ng, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    return {
        "tp": int((p & y).sum()),
        "fp": int((p & ~y).sum()),
        "tn": int((~p & ~y).sum()),
        "fn": int((~p & y).sum()),
    }


def f1_from_confusion(c: dict[str, int]) -> float:
    denom = 2 * c["tp"] + c["fp"] + c["fn"]
    return float(2 * c["tp"] / denom) if denom else float("nan")
