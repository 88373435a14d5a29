"""Inference: pre-process -> model -> post-process, producing one :class:`~core.types.InspectionResult` a frame.

The predictor owns the device (CPU by default, CUDA when present), runs without gradients in inference mode,
batches when given several frames, and times each stage. The network's output is scored by the model's
post-processor (:mod:`core.postprocess`): its scoring stages inside the detector, then its calibration here.
Thresholds are applied here, outside the network, so changing them re-decides cached results without running the
model (:meth:`InspectionResult.with_thresholds`).

Each frame's exposure and noise are measured at the model's input size (:mod:`core.lighting`, under a
millisecond): the noise scales the raw score and map to the calibration's level
(:meth:`~core.calibration.ModeCalibration.level_factor`), and a frame outside the lighting range the model was
calibrated over gets UNCERTAIN (CHECK) with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from core.backbone import FeatureEncoder, shared_encoder
from core.data.io import load_image
from core.lighting import FrameLighting
from core.model.detector import AnomalyDetector
from core.preprocess import mode_images, resize_rgb, resolve_mode, view_tensors
from core.roi import RoiMask
from core.types import Frame, InputMode, InspectionResult, Thresholds, decide


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Predictor:
    """A trained model ready to inspect frames."""

    def __init__(
        self,
        trained,
        thresholds: Thresholds | None = None,
        *,
        category: str = "",
        version: str = "",
        device: str | torch.device | None = None,
        encoder: FeatureEncoder | None = None,
        mode: InputMode | None = None,
    ) -> None:
        self.trained = trained
        self.category = category
        self.version = version
        self.device = torch.device(device) if device else default_device()
        self.image_size = trained.config.image_size
        self.welllit_mean = trained.welllit_mean
        self.lowlight_below = trained.lowlight_exposure  # automatic mode's cut-off
        self.post = trained.post
        self.thresholds = thresholds or Thresholds()
        self.mode = mode  # None = automatic (see core.preprocess.resolve_mode)
        self.roi = RoiMask.from_dict(trained.stats.get("roi"))  # the mask this version was trained with
        detector = AnomalyDetector(encoder or shared_encoder(), trained.net, trained.post.scoring).eval()
        self.detector = detector.to(self.device).to(memory_format=torch.channels_last)
        self.detector.map_graphs = True  # the model no longer changes: each mode's map can run as a graph

    @classmethod
    def from_recipe(cls, recipe, version: str | None = None, **kwargs) -> Predictor:
        """Load a :class:`core.recipes.Recipe`'s active (or given) version with its saved thresholds."""
        version = version or recipe.active_version
        trained = recipe.load(version)
        return cls(trained, recipe.thresholds(), category=recipe.name, version=version or "", **kwargs)

    def warm_up(self) -> None:
        """Inspect a grey frame in each calibrated mode and forget it, so the first real frame does not pay for the
        one-off work: the traced graphs (:mod:`core.graphs`) of the encoder and the network (about a second; every
        mode and batch size then shares them) and of each mode's map at a batch of one, and the first call's
        allocations."""
        grey = np.full((self.image_size, self.image_size, 3), 60, np.uint8)
        for mode in self.post.modes or (InputMode.LOWLIGHT.value,):
            partner = grey if mode == InputMode.PAIRED.value else None
            self.predict_batch([Frame(grey, source="warm-up", partner=partner)], InputMode(mode))

    def predict(self, item: Frame | np.ndarray | str, mode: InputMode | None = None) -> InspectionResult:
        return self.predict_batch([item], mode)[0]

    @torch.inference_mode()
    def predict_batch(self, items: Sequence[Frame | np.ndarray | str], mode: InputMode | None = None):
        """Inspect several frames; frames of different modes are grouped so each batch shares one mode."""
        t0 = time.perf_counter()
        frames = [self._as_frame(it) for it in items]
        requested = mode or self.mode
        fill = self.roi.fill_outside  # the light outside the mask must not choose the mode either
        modes = [
            resolve_mode(fill(f.image), None if f.partner is None else fill(f.partner), requested, self.lowlight_below)
            for f in frames
        ]
        results: list[InspectionResult | None] = [None] * len(frames)
        pre_ms = (time.perf_counter() - t0) * 1000 / max(1, len(frames))
        for m in dict.fromkeys(modes):
            idx = [i for i, mm in enumerate(modes) if mm == m]
            for r, i in zip(self._run(m, [frames[i] for i in idx], pre_ms), idx):
                results[i] = r
        return results

    def _lighting(self, captured: np.ndarray) -> FrameLighting | None:
        """The exposure and noise of a frame as captured, at the model's input size (``captured`` is that already,
        :func:`core.preprocess.mode_images`); ``None`` for a model calibrated without a lighting range."""
        if self.post.lighting is None:
            return None
        return self.post.lighting.measure(resize_rgb(captured, self.image_size), self.welllit_mean)

    def _as_frame(self, item) -> Frame:
        if isinstance(item, Frame):
            return item
        if isinstance(item, np.ndarray):
            return Frame(load_image(item), source="array")
        return Frame(load_image(item), source="file", ref=str(item))

    def _run(self, mode: InputMode, frames: list[Frame], load_ms: float) -> list[InspectionResult]:
        t0 = time.perf_counter()
        fill = self.roi.fill_outside
        views = [
            mode_images(
                mode, fill(f.image), None if f.partner is None else fill(f.partner), self.image_size, self.welllit_mean
            )
            for f in frames
        ]
        lighting = [self._lighting(v.light) for v in views]
        inputs, targets, light = (None if t is None else t.to(self.device) for t in view_tensors(views))
        t1 = time.perf_counter()
        out = self.detector(inputs, targets, light, mode)
        raw_maps = out.anomaly_map[:, 0].float().cpu().numpy()
        raw_scores = out.score.float().cpu().numpy()
        illum = out.illumination[:, 0].float().cpu().numpy()
        t2 = time.perf_counter()
        cal = self.post.for_mode(mode)
        results = []
        for k, f in enumerate(frames):
            h, w = f.image.shape[:2]
            seen = lighting[k]
            score, amap = cal.apply(raw_scores[k], raw_maps[k], None if seen is None else seen.noise)
            amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
            amap = self.roi.mask_map(amap, 0.0)  # the good level: nothing outside is shown or outlined
            ill = cv2.resize(illum[k], (w, h), interpolation=cv2.INTER_LINEAR)
            reason = "" if seen is None or self.post.lighting is None else self.post.lighting.reason(seen)
            results.append(
                InspectionResult(
                    score=score,
                    raw_score=float(raw_scores[k]),
                    verdict=decide(self.thresholds, score, reason),
                    reason=reason,
                    lighting=seen,
                    anomaly_map=amap,
                    illumination_map=ill,
                    thresholds=self.thresholds,
                    mode=mode,
                    frame=f,
                    category=self.category,
                    model_version=self.version,
                )
            )
        t3 = time.perf_counter()
        n = len(frames)
        for r in results:
            r.timings = {
                "pre": load_ms + (t1 - t0) * 1000 / n,
                "model": (t2 - t1) * 1000 / n,
                "post": (t3 - t2) * 1000 / n,
            }
        return results
