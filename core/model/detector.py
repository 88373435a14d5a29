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
map. With a dark input (``PAIRED``, ``LOWLIGHT``) the residual is measured after whitening with its covariance
on good dark images (:class:`~core.model.anomaly_map.ResidualWhitening`); with ``WELLLIT`` it is the cosine
distance. Once fitted, the mode's region contrast (:class:`~core.model.region_contrast.RegionContrast`) adds to
the map where a region of the target differs from the rest of the same part, and its foreign-region head
(:class:`~core.model.foreign_region.ForeignRegion`) where a region looks swapped in from another part. The image
score is the map's before those two; once the mode's image density is fitted
(:class:`~core.model.image_density.ImageDensity`), scaled by how far the texture of the whole target
(the correlations of its feature channels) is from good parts'. Last, the mode's image gate
(:class:`~core.model.image_gate.ImageGate`) scales each map by how far its image score is from good parts'.
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


def mode_map(
    net: LowLightAnomalyNet,
    maps: AnomalyMapGenerator,
    mode: InputMode,
    recon,
    targets_on_grid,
    target_feats,
    captured: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(map, image score) of one input mode: the discrepancy with the mode's whitening, position baseline and
    feature density, its noise floor, region contrast and foreign-region head, its image density in the score and
    its image gate on the map. ``captured``: the images as captured (:func:`core.preprocess.captured_images`),
    whose size the map takes."""
    key = InputMode(mode).value
    baseline, whitening, density = net.baselines[key], net.whitening[key], net.densities[key]
    amap, score = maps(recon, targets_on_grid, captured.shape[-2:], baseline, whitening, density)
    amap = net.region_contrasts[key].add_to(net.floors[key](amap), target_feats[-1])
    amap = net.foreign_regions[key].add_to(amap, target_feats, captured)
    image_density = net.image_densities[key]
    if image_density.is_fitted:
        score = image_density.combine(score, image_density.summaries(target_feats))
    return net.gates[key](amap, score), score


def mode_modules(net: LowLightAnomalyNet, maps: AnomalyMapGenerator, mode: InputMode) -> list[nn.Module]:
    """What :func:`mode_map` reads in ``mode``: the map generator and the mode's fitted terms."""
    key = InputMode(mode).value
    terms = (
        net.baselines,
        net.whitening,
        net.densities,
        net.floors,
        net.image_densities,
        net.region_contrasts,
        net.foreign_regions,
        net.gates,
    )
    return [maps, *(t[key] for t in terms)]


class _MapPass(nn.Module):
    """What is traced of one mode's map (:func:`mode_map`): tuples of features and the images as captured in,
    the map and the image score out."""

    def __init__(self, net: LowLightAnomalyNet, maps: AnomalyMapGenerator, mode: InputMode) -> None:
        super().__init__()
        self.net, self.maps, self.mode = net, maps, mode

    def forward(self, recon, targets_on_grid, target_feats, captured: torch.Tensor):
        return mode_map(self.net, self.maps, self.mode, recon, targets_on_grid, target_feats, captured)


class AnomalyDetector(nn.Module):
    """Encoder, network and map generator wired for inference."""

    #: no-gradient passes of the network on the CPU run a traced, frozen graph (:mod:`core.graphs`), one per
    #: image size and version of the weights: fewer calls through Python at a batch of one, the same scores to
    #: float rounding
    use_graphs: bool = True
    #: with :attr:`use_graphs`, each mode's map (:func:`mode_map`: some hundred small operations after the network)
    #: runs as a traced graph too, one per batch shape and version of the mode's terms, the maps and scores the
    #: same to the digit. Off by default: calibration fits the terms one by one between passes, and a trace at
    #: each would cost more than it saves; a :class:`~core.predictor.Predictor`, whose model no longer changes,
    #: turns it on
    map_graphs: bool = False

    def __init__(self, encoder: FeatureEncoder, net: LowLightAnomalyNet, sigma: float = 4.0, top_k: float = 0.01):
        super().__init__()
        self.encoder = encoder
        self.net = net
        self.maps = AnomalyMapGenerator(sigma=sigma, top_k=top_k)
        traced = nn.ModuleList([net.lfe, net.illumination, net.ife, net.aff, net.decoder])  # what _NetPass runs
        self._net_graphs = GraphCache(
            lambda: _NetPass(self.net), any_batch=True, version=lambda: weights_version(traced), max_graphs=4
        )
        # keyed by the batch too: the foreign-region head's mirror images are split by the batch size
        self._map_graphs = {m: self._map_cache(m) for m in InputMode}

    def _map_cache(self, mode: InputMode) -> GraphCache:
        modules = mode_modules(self.net, self.maps, mode)
        return GraphCache(
            lambda: _MapPass(self.net, self.maps, mode), version=lambda: tensors_state(*modules), max_graphs=4
        )

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
        position baseline and the feature density the discrepancy is measured with (``None``: raw cosine
        distance)."""
        recon, targets_on_grid, illumination, target_feats = self._reconstruct(inputs, targets, light)
        if mode is None:
            amap, score = self.maps(recon, targets_on_grid, inputs.shape[-2:])
        else:
            amap, score = self._mode_map(InputMode(mode), recon, targets_on_grid, target_feats, inputs, light)
        return DetectorOutput(amap, score, illumination)

    def _mode_map(self, mode: InputMode, recon, targets_on_grid, target_feats, inputs, light):
        """:func:`mode_map`, as a traced graph where :attr:`map_graphs` allows one."""
        captured = captured_images(inputs, light)
        if self.use_graphs and self.map_graphs and not self.net.training:
            out = self._map_graphs[mode](tuple(recon), tuple(targets_on_grid), tuple(target_feats), captured)
            if out is not None:
                return out
        return mode_map(self.net, self.maps, mode, recon, targets_on_grid, target_feats, captured)
