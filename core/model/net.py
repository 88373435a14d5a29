"""The assembled low-light anomaly network (everything trainable; the frozen encoder lives outside it).

Data flow for one image, per encoder scale *i*::

    low-light features f_i --LFE--> a_i         (noise-free low-frequency content)
    low-light image --IlluminationEstimator--> L (illumination map, an output)
    f_i, L --IlluminationModulation--> b_i       (uneven light corrected)
    a_i, b_i --AFF--> g_i                        (channel x spatial attention)
    g_1..g_n --context decoder (blind spot)--> r_1..r_n   (reconstructed well-lit features, stride-8 grid)

What is fitted on good parts after training to score its output (whitening, densities, map terms, gate) is not
part of it: that is the post-processor's (:mod:`core.postprocess`).

``forward`` always returns the same :class:`NetOutput`, in training and in evaluation.
What the reconstructions are compared with depends on the input mode (see :mod:`core.model.detector`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core.model.aff import AdaptiveFeatureFusion
from core.model.decoder import ContextReconstructionDecoder, align_to_grid
from core.model.ife import IlluminationEstimator, IlluminationModulation
from core.model.lfe import LowPassFeatureEnhancement


@dataclass
class NetConfig:
    """Architecture settings, saved with every recipe so a checkpoint rebuilds exactly."""

    channels: tuple[int, ...] = (24, 40, 112)
    strides: tuple[int, ...] = (4, 8, 16)
    grid_stride: int = 8
    reduce: int = 96
    hidden: int = 192
    code: int = 64
    lfe_cutoffs: tuple[float, ...] = (0.35, 0.45, 0.6)
    illumination_stride: int = 4
    image_size: int = 256
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("channels", "strides", "lfe_cutoffs"):
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


@dataclass
class NetOutput:
    """Reconstructed well-lit features (one per scale, on the stride-8 grid) and the illumination map
    (B, 1, H/4, W/4)."""

    reconstruction: list[torch.Tensor]
    illumination: torch.Tensor


class LowLightAnomalyNet(nn.Module):
    """LFE + IFE + AFF per scale and a blind-spot context decoder."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NetConfig()
        if not (len(config.channels) == len(config.strides) == len(config.lfe_cutoffs)):
            raise ValueError("channels, strides and lfe_cutoffs need one entry per scale")
        self.lfe = nn.ModuleList(
            LowPassFeatureEnhancement(c, init_cutoff=k) for c, k in zip(config.channels, config.lfe_cutoffs)
        )
        self.illumination = IlluminationEstimator(stride=config.illumination_stride)
        self.ife = nn.ModuleList(IlluminationModulation(c) for c in config.channels)
        self.aff = nn.ModuleList(AdaptiveFeatureFusion(c) for c in config.channels)
        self.decoder = ContextReconstructionDecoder(config.channels, config.reduce, config.hidden, config.code)

    @property
    def map_grid(self) -> int:
        """Cells along each side of the reconstruction's grid at the configured image size."""
        return self.config.image_size // self.config.grid_stride

    def fuse(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Enhanced and fused features per scale, and the illumination map."""
        illumination = self.illumination(image)
        fused = [aff(lfe(f), ife(f, illumination)) for f, lfe, ife, aff in zip(feats, self.lfe, self.ife, self.aff)]
        return fused, illumination

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> NetOutput:
        """``feats``: encoder maps of the input image (shallow first); ``image``: the input in [0, 1]."""
        fused, illumination = self.fuse(feats, image)
        return NetOutput(self.decoder(fused, self.grid_size(image)), illumination)

    def grid_size(self, image: torch.Tensor) -> tuple[int, int]:
        s = self.config.grid_stride
        return (image.shape[-2] // s, image.shape[-1] // s)

    def align_targets(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> list[torch.Tensor]:
        """Target features on the reconstruction's grid."""
        return align_to_grid(feats, self.grid_size(image))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


TRAINED_PARTS = ("lfe.", "illumination.", "ife.", "aff.", "decoder.")
"""The network parts the training steps learn (all of it: what calibration fits is the post-processor's)."""


def trainable_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state of ``net``'s step-trained parts (:data:`TRAINED_PARTS`), copied: what a top-up starts from."""
    return {k: v.detach().clone() for k, v in net.state_dict().items() if k.startswith(TRAINED_PARTS)}
