"""The detector: frozen encoder + trainable network + anomaly map, and what each input mode compares.

Three input modes (:class:`core.types.InputMode`), one rule: the network always reconstructs *well-lit*
features from the *input* image, and the anomaly map is the discrepancy between that reconstruction and the
encoder's features of the best well-lit view of the part that exists:

- ``PAIRED``: input = the low-light image, target = the encoder's features of the real well-lit image.
- ``LOWLIGHT``: input = the low-light image, target = the encoder's features of the low-light image after the
  fixed classical enhancement (:func:`core.data.lowlight.enhance_lowlight`). No well-lit image is needed.
- ``WELLLIT``: input = target = the well-lit image (one encoder pass). Training includes unaltered well-lit
  inputs, so the network handles ordinary light too.

A defect is in the target (the enhancement and the encoder keep it) but not in the reconstruction (each
position is predicted from its surroundings by a network that only learnt good parts), so it lights up in the
map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.backbone import FeatureEncoder
from core.model.anomaly_map import AnomalyMapGenerator
from core.model.net import LowLightAnomalyNet


@dataclass
class DetectorOutput:
    """Raw (not normalised) anomaly maps (B, 1, S, S), image scores (B,), illumination maps (B, 1, S/4, S/4)."""

    anomaly_map: torch.Tensor
    score: torch.Tensor
    illumination: torch.Tensor


class AnomalyDetector(nn.Module):
    """Encoder, network and map generator wired for inference."""

    def __init__(self, encoder: FeatureEncoder, net: LowLightAnomalyNet, sigma: float = 4.0, top_k: float = 0.01):
        super().__init__()
        self.encoder = encoder
        self.net = net
        self.maps = AnomalyMapGenerator(sigma=sigma, top_k=top_k)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> DetectorOutput:
        """``inputs``/``targets``: (B, 3, S, S) RGB in [0, 1]; ``targets=None`` means the input is its own target."""
        in_feats = self.encoder(inputs)
        tgt_feats = in_feats if targets is None else self.encoder(targets)
        out = self.net(in_feats, inputs)
        amap, score = self.maps(out.reconstruction, self.net.align_targets(tgt_feats, inputs), inputs.shape[-2:])
        return DetectorOutput(amap, score, out.illumination)
