"""Reading and writing one model version: safetensors weights plus a JSON description.

Weights are stored as safetensors, a format of raw tensors that cannot execute code when read. The JSON
records the architecture, the training settings, the calibration, the statistics, the backbone (name and
weights SHA-256) and the SHA-256 of the weights file, so a swapped, truncated or foreign file is refused with a
clear :class:`~core.errors.RecipeError` instead of a crash.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase
from pathlib import Path

from core.backbone import BACKBONES, DEFAULT_BACKBONE
from core.calibration import PostProcessor
from core.errors import RecipeError
from core.fsio import file_sha256, read_json
from core.model.net import LowLightAnomalyNet, NetConfig
from core.types import InputMode

CHECKPOINT_FORMAT = 14
"""3 added each mode's residual whitening, 4 each mode's feature density, 5 made the density a mixture of Gaussians, 6
added each mode's image density of channel moments, which 7 replaced with channel correlations (format 6 lived for a few
commits of development; its models are refused), 8 each mode's region contrast, 9 each mode's foreign-region head, 10
each mode's noise floor under the reconstruction map, 11 the head's average over mirror images of its input, 12 the
head's input of each place's deviation from good parts at that place, 13 the low-light head's input of the local light
level, 14 each mode's image gate on the map (a first form of it, without its weight, lived for one commit of
development; its models are refused). An older model still loads with what it lacks unfitted (format 2: no whitening, so
the cosine distance; formats 2 and 3: no density; formats 2 to 5: no image density, so the map's score alone; formats 2
to 7: no region contrast in the map; formats 2 to 8: no foreign-region term in the map; formats 2 to 9: no noise floor;
formats 9 and 10: the head on its input alone; formats 9 to 11: the head without the deviations from each place's good
mean; formats 9 to 12: no head takes the light level; formats 2 to 13: no image gate), and a format-4 density as a
mixture of one, so it measures anomalies the way its thresholds were calibrated."""
_ADDED_IN = {
    "whitening.": 3,
    "densities.": 4,
    "image_densities.": 7,
    "region_contrasts.": 8,
    "foreign_regions.": 9,
    "floors.": 10,
    "foreign_regions.*.views": 11,
    "foreign_regions.*.position_": 12,
    "foreign_regions.*.light_channels": 13,
    "gates.": 14,
}
"""State-dict keys (prefixes, or :func:`fnmatch.fnmatchcase` patterns) of buffers a format added: an older file may
lack them."""
WEIGHTS_FILE = "weights.safetensors"
MODEL_FILE = "model.json"


def write_version(folder: Path, trained) -> None:
    """Write ``trained`` (a :class:`core.training.TrainedModel`) into an empty ``folder``."""
    from safetensors.torch import save_file

    from core.fsio import atomic_write_json

    state = {k: v.detach().cpu().contiguous() for k, v in trained.net.state_dict().items()}
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
    if fmt == 6:
        raise RecipeError(
            f"{folder} was saved by a development version of LLAD (model format 6), whose whole-image check this "
            "one measures differently: retrain the category"
        )
    if fmt < 2:
        raise RecipeError(
            f"{folder} was saved by an older LLAD (model format {fmt}; this one is {CHECKPOINT_FORMAT}, which "
            "feeds dark images differently and normalises the map per position): retrain the category"
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
        missing, unexpected = net.load_state_dict(state, strict=False)
        if unexpected or any(not _added_later(k, fmt) for k in missing):
            raise RuntimeError(f"weights do not fit the network: missing {missing}, unexpected {unexpected}")
        post = PostProcessor.from_dict(meta["calibration"])
        train_config = TrainConfig.from_dict(meta.get("train_config", {}))
        mode = InputMode(meta.get("default_mode", "lowlight"))
        welllit_mean = float(meta["welllit_mean"])
        lowlight_below = None if meta.get("lowlight_below") is None else float(meta["lowlight_below"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RecipeError(f"{folder} does not describe a model this LLAD can build: {exc}") from None
    net.eval()
    return TrainedModel(net, post, train_config, welllit_mean, meta.get("stats", {}), mode, lowlight_below)


def _added_later(key: str, fmt: int) -> bool:
    return any(fmt < added and fnmatchcase(key, f"{name}*") for name, added in _ADDED_IN.items())


def weights_bytes(folder: Path) -> int:
    return (folder / WEIGHTS_FILE).stat().st_size
