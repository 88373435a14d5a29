"""The detector: frozen encoder + trainable network + anomaly map, and what each input mode compares.

Three input modes (:class:`core.types.InputMode`), one rule: the network reconstructs *well-lit* features from
the features of its input, and the anomaly map is the discrepancy between that reconstruction and the encoder's
features of the best well-lit view of the part that exists. A dark image enters the encoder after the fixed
classical enhancement (:func:`core.data.lowlight.enhance_lowlight`: brightened, flattened, lightly denoised), and
the illumination map is estimated from the dark image as captured, so IFE knows which regions were amplified (and
their noise with them) and LFE removes what noise the enhancement left in the features:

- ``PAIRED``: input = the enhanced low-light image, target = the encoder's features of the real well-lit image.
- ``LOWLIGHT``: input = target = the enhanced low-light image (one encoder pass). No well-lit image is needed.
- ``WELLLIT``: input = target = the well-lit image (one encoder pass). Training includes unaltered well-lit
  inputs, so the network handles ordinary light too.

Feeding the raw dark image to the encoder and comparing with the enhanced image's features, the first design,
scored no better and cost a second encoder pass per image.

A defect is in the target (the enhancement and the encoder keep it) but not in the reconstruction (each
position is predicted from its surroundings by a network that only learnt good parts), so it lights up in the
map. How the discrepancy becomes a map and an image score in each mode is the post-processor's scoring
(:class:`~core.postprocess.scoring.ModeScoring`: whitening for a dark input, position baseline, densities, map
terms, image gate), which the detector runs after the network; without it (``mode=None``) the map is the plain
cosine distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.backbone import FeatureEncoder
from core.graphs import GraphCache, tensors_state, weights_version
from core.model.anomaly_map import AnomalyMapGenerator, unit_residuals
from core.model.net import LowLightAnomalyNet
from core.preprocess import captured_images
from core.types import InputMode


@dataclass
class DetectorOutput:
    """Raw (not normalised) anomaly maps (B, 1, S, S), image scores (B,), illumination maps (B, 1, S/4, S/4)."""

    anomaly_map: torch.Tensor
    score: torch.Tensor
    illumination: torch.Tensor


class _NetPass(nn.Module):
    """What is traced of the network: features and image in, reconstruction (a tuple) and illumination out."""

    def __init__(self, net: LowLightAnomalyNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, feats: tuple[torch.Tensor, ...], image: torch.Tensor):
        out = self.net(feats, image)
        return tuple(out.reconstruction), out.illumination


class AnomalyDetector(nn.Module):
    """Encoder, network and the post-processor's scoring (``scoring``: a :class:`~core.postprocess.ModeScoring` per
    input mode) wired for inference."""

    #: no-gradient passes of the network on the CPU run a traced, frozen graph (:mod:`core.graphs`), one per
    #: image size and version of the weights: fewer calls through Python at a batch of one, the same scores to
    #: float rounding
    use_graphs: bool = True
    #: with :attr:`use_graphs`, each mode's scoring (some hundred small operations after the network)
    #: runs as a traced graph too, one per batch shape and version of the mode's terms, the maps and scores the
    #: same to the digit. Off by default: calibration fits the terms one by one between passes, and a trace at
    #: each would cost more than it saves; a :class:`~core.predictor.Predictor`, whose model no longer changes,
    #: turns it on
    map_graphs: bool = False

    def __init__(self, encoder: FeatureEncoder, net: LowLightAnomalyNet, scoring: nn.ModuleDict | None = None):
        super().__init__()
        self.encoder = encoder
        self.net = net
        self.scoring = scoring
        self.maps = AnomalyMapGenerator()  # the plain cosine map of ``mode=None``
        traced = nn.ModuleList([net.lfe, net.illumination, net.ife, net.aff, net.decoder])  # what _NetPass runs
        self._net_graphs = GraphCache(
            lambda: _NetPass(self.net), any_batch=True, version=lambda: weights_version(traced), max_graphs=4
        )
        # keyed by the batch too: the foreign-region head's mirror images are split by the batch size
        self._map_graphs = {m: self._map_cache(m.value) for m in InputMode}

    def _map_cache(self, key: str) -> GraphCache:
        return GraphCache(lambda: self.scoring[key], version=lambda: tensors_state(self.scoring[key]), max_graphs=4)

    def _run_net(self, feats: list[torch.Tensor], image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(reconstruction, illumination map). A network in training mode (batch statistics) runs eagerly."""
        if self.use_graphs and not self.net.training:
            out = self._net_graphs(tuple(feats), image)  # None where no graph runs (see GraphCache.__call__)
            if out is not None:
                return list(out[0]), out[1]
        out = self.net(feats, image)
        return out.reconstruction, out.illumination

    def _reconstruct(self, inputs, targets, light):
        """(reconstruction, targets on its grid, illumination map, the encoder's target features)."""
        if targets is None:
            in_feats = tgt_feats = self.encoder(inputs)
        else:  # one encoder call for both: better use of the cores than two small batches
            both = self.encoder(torch.cat([inputs, targets]))
            in_feats = [f[: len(inputs)] for f in both]
            tgt_feats = [f[len(inputs) :] for f in both]
        reconstruction, illumination = self._run_net(in_feats, inputs if light is None else light)
        return reconstruction, self.net.align_targets(tgt_feats, inputs), illumination, tgt_feats

    def calibration_residuals(self, inputs, targets=None, light=None) -> list[torch.Tensor]:
        """Per scale, the unit residuals (B, C, grid, grid), for fitting a mode's whitening and position
        baseline."""
        recon, targets_on_grid, _, _ = self._reconstruct(inputs, targets, light)
        return unit_residuals(recon, targets_on_grid)

    def target_features(self, inputs, targets=None, light=None) -> list[torch.Tensor]:
        """Per scale, the target features as the encoder gives them: what a mode's image density, feature density
        (on the map's grid: :meth:`LowLightAnomalyNet.align_targets`) and foreign-region head are fitted on. Only
        the encoder runs. ``light`` is accepted (and unused) so view batches pass as they are."""
        return self.encoder(inputs if targets is None else targets)

    def forward(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor | None = None,
        light: torch.Tensor | None = None,
        mode: InputMode | None = None,
    ) -> DetectorOutput:
        """(B, 3, S, S) RGB in [0, 1]: ``inputs`` as the encoder sees them, ``targets`` the well-lit views
        (``None``: the input is its own target), ``light`` the images as captured, for the illumination map
        (``None``: the inputs). See :class:`core.preprocess.ModeImages`. ``mode`` picks the whitening, the
        position baseline and the feature density the discrepancy is measured with, and so on: the mode's scoring
        (``None``: raw cosine distance)."""
        recon, targets_on_grid, illumination, target_feats = self._reconstruct(inputs, targets, light)
        if mode is None:
            amap, score = self.maps(recon, targets_on_grid, inputs.shape[-2:])
        else:
            amap, score = self._mode_map(InputMode(mode), recon, targets_on_grid, target_feats, inputs, light)
        return DetectorOutput(amap, score, illumination)

    def _mode_map(self, mode: InputMode, recon, targets_on_grid, target_feats, inputs, light):
        """The mode's scoring, as a traced graph where :attr:`map_graphs` allows one."""
        if self.scoring is None:
            raise ValueError("this detector has no post-processor scoring: only mode=None maps")
        captured = captured_images(inputs, light)
        if self.use_graphs and self.map_graphs and not self.net.training:
            out = self._map_graphs[mode](tuple(recon), tuple(targets_on_grid), tuple(target_feats), captured)
            if out is not None:
                return out
        return self.scoring[mode.value](recon, targets_on_grid, target_feats, captured)
