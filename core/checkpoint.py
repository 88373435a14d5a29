"""Reading and writing one model version: safetensors weights plus a JSON description.

Weights are stored as safetensors, a format of raw tensors that cannot execute code when read: the network's, and
the post-processor's scoring stages' under ``post.``. The JSON records the architecture, the training settings,
the post-processor (every stage's settings, the calibration, the lighting range), the statistics, the backbone
(name and weights SHA-256) and the SHA-256 of the weights file, so a swapped, truncated or foreign file is refused
with a clear :class:`~core.errors.RecipeError` instead of a crash.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.backbone import BACKBONES, DEFAULT_BACKBONE
from core.errors import RecipeError
from core.fsio import file_sha256, read_json
from core.model.net import LowLightAnomalyNet, NetConfig
from core.postprocess import PostProcessor
from core.types import InputMode

CHECKPOINT_FORMAT = 17
"""The history of formats was reset at 15, when training took a randomised sensor model, calibration spread over sensor
conditions, scores became noise-aware and the lighting range was saved: a model of an older format was trained and
calibrated for one sensor and is refused with one message, retrain the category. At 16 the scoring stages left the
network for the post-processor, saved with their settings (a 15's would score by the code's defaults of the day):
the same message. At 17 the noise floor left the scoring (on validation data of four sets it moved no AUROC by more
than 0.002); a 16's pixel thresholds were set with it: the same."""
POST_PREFIX = "post."
"""Where the post-processor's tensors are in the weights file."""
WEIGHTS_FILE = "weights.safetensors"
MODEL_FILE = "model.json"


def write_version(folder: Path, trained) -> None:
    """Write ``trained`` (a :class:`core.training.TrainedModel`) into an empty ``folder``."""
    from safetensors.torch import save_file

    from core.fsio import atomic_write_json

    tensors = {**trained.net.state_dict(), **{POST_PREFIX + k: v for k, v in trained.post.state_dict().items()}}
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    weights = folder / WEIGHTS_FILE
    save_file(state, str(weights))
    backbone = BACKBONES[DEFAULT_BACKBONE]
    atomic_write_json(
        folder / MODEL_FILE,
        {
            "format": CHECKPOINT_FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "backbone": {"name": backbone.name, "sha256": backbone.sha256},
            "net_config": trained.net.config.to_dict(),
            "train_config": trained.config.to_dict(),
            "calibration": trained.post.to_dict(),
            "welllit_mean": trained.welllit_mean,
            "lowlight_below": trained.lowlight_below,
            "default_mode": InputMode(trained.default_mode).value,
            "stats": trained.stats,
            "weights_sha256": file_sha256(weights),
            "num_parameters": trained.net.num_parameters(),
        },
    )


def read_version(folder: Path):
    """Load a version folder as a :class:`core.training.TrainedModel`; every failure is a RecipeError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from core.training import TrainConfig, TrainedModel

    meta = read_json(folder / MODEL_FILE)
    fmt = meta.get("format")
    if not isinstance(fmt, int) or fmt > CHECKPOINT_FORMAT:
        raise RecipeError(f"{folder} holds a model of format {fmt!r}; this LLAD reads up to {CHECKPOINT_FORMAT}")
    if fmt != CHECKPOINT_FORMAT:
        raise RecipeError(
            f"{folder} was saved by an older LLAD (model format {fmt}; this one is {CHECKPOINT_FORMAT}, trained for "
            "light and sensors of every kind, with a lighting guard and its scoring saved whole): retrain this category"
        )
    backbone = meta.get("backbone", {})
    known = BACKBONES.get(backbone.get("name", ""))
    if known is None or backbone.get("sha256") != known.sha256:
        raise RecipeError(
            f"{folder} was trained on backbone {backbone.get('name')!r} with other weights; this LLAD has "
            f"{sorted(BACKBONES)}: retrain the category"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise RecipeError(f"{weights} is missing")
    if file_sha256(weights) != meta.get("weights_sha256"):
        raise RecipeError(f"{weights} is damaged or was replaced (SHA-256 does not match model.json)")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise RecipeError(f"{weights} is not a valid safetensors file: {exc}") from None
    try:
        config = NetConfig.from_dict(meta["net_config"])
        net = LowLightAnomalyNet(config)
        post_state = {k[len(POST_PREFIX) :]: v for k, v in state.items() if k.startswith(POST_PREFIX)}
        net_state = {k: v for k, v in state.items() if not k.startswith(POST_PREFIX)}
        missing, unexpected = net.load_state_dict(net_state, strict=False)
        if unexpected or missing:
            raise RuntimeError(f"weights do not fit the network: missing {missing}, unexpected {unexpected}")
        post = PostProcessor.from_dict(meta["calibration"], post_state)
        train_config = TrainConfig.from_dict(meta.get("train_config", {}))
        mode = InputMode(meta.get("default_mode", "lowlight"))
        welllit_mean = float(meta["welllit_mean"])
        lowlight_below = None if meta.get("lowlight_below") is None else float(meta["lowlight_below"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RecipeError(f"{folder} does not describe a model this LLAD can build: {exc}") from None
    net.eval()
    return TrainedModel(net, post, train_config, welllit_mean, meta.get("stats", {}), mode, lowlight_below)


def weights_bytes(folder: Path) -> int:
    return (folder / WEIGHTS_FILE).stat().st_size
