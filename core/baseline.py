"""Reference model for benchmarks: a PatchCore-style memory-bank kNN on the same frozen encoder.

Patch features of the stride-8 and stride-16 maps (the latter upsampled), averaged over a 3x3 neighbourhood,
form a memory bank of the good training images, reduced by greedy k-center coreset selection on a random
projection. A test patch's anomaly is its distance to the nearest bank entry; the image score is the largest
patch score. It has the same ``predict_batch`` interface as :class:`core.predictor.Predictor`, so
:func:`core.evaluation.evaluate` measures both the same way. It is not used by the application.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.backbone import shared_encoder
from core.calibration import calibrate_mode
from core.data.io import load_image
from core.model.anomaly_map import gaussian_kernel1d
from core.preprocess import resize_rgb, to_tensor
from core.types import Frame, InputMode, InspectionResult, Thresholds


class PatchCoreBaseline:
    """Memory-bank kNN anomaly detector (reference only)."""

    def __init__(self, image_size: int = 256, coreset: int = 10_000, seed: int = 0) -> None:
        self.encoder = shared_encoder()
        self.image_size = image_size
        self.coreset = coreset
        self.seed = seed
        self.bank: torch.Tensor | None = None
        self.cal = None
        self.thresholds = Thresholds()
        self.kernel = gaussian_kernel1d(4.0)

    def _patches(self, batch: torch.Tensor) -> torch.Tensor:
        _, f8, f16 = self.encoder(batch)
        f16 = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        feats = torch.cat([f8, f16], dim=1)
        return F.avg_pool2d(feats, 3, stride=1, padding=1)  # (B, C, h, w)

    @torch.inference_mode()
    def fit(self, images: Sequence[np.ndarray], holdout: Sequence[np.ndarray] = ()) -> dict:
        t0 = time.perf_counter()
        rows = []
        for i in range(0, len(images), 8):
            x = to_tensor([resize_rgb(im, self.image_size) for im in images[i : i + 8]])
            p = self._patches(x)
            rows.append(p.permute(0, 2, 3, 1).reshape(-1, p.shape[1]))
        bank = torch.cat(rows)
        gen = torch.Generator().manual_seed(self.seed)
        if bank.shape[0] > 20 * self.coreset:  # pre-thin at random so greedy selection stays affordable
            bank = bank[torch.randperm(bank.shape[0], generator=gen)[: 20 * self.coreset]]
        self.bank = self._greedy_coreset(bank, gen).contiguous()
        if holdout:
            scores, maps = zip(*[self._raw(h) for h in holdout])
            self.cal = calibrate_mode(np.array(scores), np.stack(maps))
        return {"bank_size": int(self.bank.shape[0]), "fit_seconds": time.perf_counter() - t0}

    def _greedy_coreset(self, feats: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = feats.shape[0]
        if n <= self.coreset:
            return feats
        proj = feats @ torch.randn(feats.shape[1], 64, generator=gen) / 8
        chosen = [int(torch.randint(n, (1,), generator=gen))]
        dist = torch.cdist(proj, proj[chosen[-1] : chosen[-1] + 1]).squeeze(1)
        for _ in range(self.coreset - 1):
            idx = int(torch.argmax(dist))
            chosen.append(idx)
            dist = torch.minimum(dist, torch.cdist(proj, proj[idx : idx + 1]).squeeze(1))
        return feats[torch.tensor(chosen)]

    def _raw(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        x = to_tensor([resize_rgb(image, self.image_size)])
        p = self._patches(x)[0]
        C, h, w = p.shape
        q = p.permute(1, 2, 0).reshape(-1, C)
        d = torch.cdist(q, self.bank).min(dim=1).values.view(1, 1, h, w)
        m = F.interpolate(d, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        k = self.kernel
        r = k.numel() // 2
        m = F.conv2d(F.pad(m, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
        m = F.conv2d(F.pad(m, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
        return float(d.max()), m[0, 0].numpy()

    @torch.inference_mode()
    def predict_batch(self, frames: Sequence[Frame], mode=None) -> list[InspectionResult]:
        out = []
        for f in frames:
            image = f.image if isinstance(f, Frame) else load_image(f)
            t0 = time.perf_counter()
            score, m = self._raw(image)
            h, w = image.shape[:2]
            norm = self.cal.normalize_score(score) if self.cal else score
            amap = self.cal.normalize_map(m) if self.cal else m
            amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
            out.append(
                InspectionResult(
                    score=float(norm),
                    raw_score=score,
                    verdict=self.thresholds.decide(float(norm)),
                    anomaly_map=amap,
                    illumination_map=None,
                    thresholds=self.thresholds,
                    mode=InputMode.WELLLIT,
                    timings={"model": (time.perf_counter() - t0) * 1000},
                    frame=f if isinstance(f, Frame) else None,
                )
            )
        return out

    def size_bytes(self) -> int:
        return 0 if self.bank is None else self.bank.numel() * self.bank.element_size()
