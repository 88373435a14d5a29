"""Any GenICam camera through ``harvesters`` (+ ``genicam``), using the vendor's GenTL producer (a ``.cti``).

Every GenICam camera maker ships a GenTL producer; the operator points LLAD at it (or sets the standard
``GENICAM_GENTL64_PATH``). Both packages are optional: without them :func:`gentl_status` says why, and so it
does when no producer is configured. The ``genicam`` package ships one simulated producer, "Viky"
(:func:`simulated_producer`, three virtual cameras with serials 0, 1, 2), which the tests and a rehearsal use;
it has no exposure, gain or trigger features, so those settings are reported as missing on it.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from core.sources.camera_settings import CameraSettings, _version
from core.sources.industrial import (
    BackendStatus,
    CameraDriver,
    CameraInfo,
    CameraLost,
    CameraNotFound,
    FeatureAccess,
    IndustrialCameraSource,
    _short,
    apply_settings,
    release_quietly,
)

NOT_INSTALLED = "GenICam harvesters not installed (pip install harvesters genicam)"
NO_PRODUCER = "no GenTL producer (.cti) configured"
# Bayer patterns named by GenICam (first two pixels of the first row) -> OpenCV's code (which names the
# second row's), both giving RGB
_BAYER = {"BayerRG": cv2.COLOR_BayerBG2RGB, "BayerBG": cv2.COLOR_BayerRG2RGB,
          "BayerGR": cv2.COLOR_BayerGB2RGB, "BayerGB": cv2.COLOR_BayerGR2RGB}  # fmt: skip


def simulated_producer() -> Path | None:
    """The simulated GenTL producer shipped inside the ``genicam`` package, if installed."""
    try:
        import genicam
    except ImportError:
        return None
    path = Path(genicam.__file__).parent / "viky.cti"
    return path if path.is_file() else None


def producers(configured: str = "") -> list[Path]:
    """The ``.cti`` files to use: the configured one, else every one in ``GENICAM_GENTL64_PATH``'s folders."""
    if configured:
        return [Path(configured).expanduser()]
    found: list[Path] = []
    for folder in os.environ.get("GENICAM_GENTL64_PATH", "").split(os.pathsep):
        if folder and Path(folder).is_dir():
            found += sorted(Path(folder).glob("*.cti"))
    return found


def gentl_status(producer: str = "") -> BackendStatus:
    """Whether harvesters loads and a producer is configured (a configured one must exist)."""
    try:
        from harvesters.core import Harvester  # noqa: F401
    except ImportError:
        return BackendStatus("genicam", False, NOT_INSTALLED)
    except OSError as exc:
        return BackendStatus("genicam", False, f"GenICam harvesters does not load: {exc}")
    version = _version("harvesters")
    found = producers(producer)
    if not found:
        return BackendStatus("genicam", False, NO_PRODUCER, version)
    missing = [str(p) for p in found if not p.is_file()]
    if missing:
        return BackendStatus("genicam", False, f"GenTL producer {missing[0]} not found", version)
    return BackendStatus("genicam", True, version=version)


def _harvester(producer: str):
    from harvesters.core import Harvester

    found = producers(producer)
    if not found:
        raise CameraNotFound(NO_PRODUCER)
    h = Harvester()
    try:
        for cti in found:
            if not cti.is_file():
                raise CameraNotFound(f"GenTL producer {cti} not found")
            h.add_file(str(cti), check_existence=True, check_validity=True)
        h.update()
    except BaseException:
        h.reset()
        raise
    return h


def _info(d) -> CameraInfo:
    return CameraInfo("genicam", str(d.serial_number), str(d.model), str(d.vendor))


def list_gentl_cameras(producer: str = "") -> list[CameraInfo]:
    """Every camera the producer(s) see now; empty when none is configured or harvesters is missing."""
    if not gentl_status(producer).available:
        return []
    h = _harvester(producer)
    try:
        return [_info(d) for d in h.device_info_list]
    finally:
        h.reset()


class _GenApiFeatures(FeatureAccess):
    def __init__(self, nodemap) -> None:
        from genicam import genapi

        self.nodemap, self.genapi = nodemap, genapi

    def _node(self, name: str):
        try:
            node = self.nodemap.get_node(name)
            return node if self.genapi.is_writable(node) else None
        except Exception:  # "Node not existing"
            return None

    def has(self, name: str) -> bool:
        return self._node(name) is not None

    def get(self, name: str) -> object | None:
        try:
            node = self.nodemap.get_node(name)
            return node.value if self.genapi.is_readable(node) else None
        except Exception:  # absent, or a command
            return None

    def set(self, name: str, value: object) -> object:
        g, node = self.genapi, self._node(name)
        if node is None:
            raise KeyError(name)
        if isinstance(node, g.IFloat):
            node.value = min(max(float(value), node.min), node.max)
        elif isinstance(node, g.IInteger):
            lo, step = node.min, max(1, node.inc)
            v = min(max(int(round(float(value))), lo), node.max)
            node.value = lo + (v - lo) // step * step
        elif isinstance(node, g.IBoolean):
            node.value = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "on")
        elif isinstance(node, g.ICommand):
            node.execute()
            return value
        else:
            node.value = str(value)
        return node.value

    def choices(self, name: str) -> tuple[str, ...]:
        node = self._node(name)
        return tuple(node.symbolics) if node is not None and isinstance(node, self.genapi.IEnumeration) else ()


def component_image(data: np.ndarray, width: int, height: int, fmt: str) -> np.ndarray | str:
    """A GenICam buffer component as an image :func:`~core.data.io.load_image` takes (RGB order), or why not."""
    channels = data.size // max(1, width * height)
    if channels < 1:
        return f"empty {fmt} frame"
    data = data[: height * width * channels]  # a buffer may be padded past the image
    img = data.reshape(height, width, channels) if channels > 1 else data.reshape(height, width)
    if img.dtype != np.uint8:  # 10/12/16-bit pixels in 16-bit words: keep the top 8 bits of what is used
        bits = int("".join(c for c in fmt.split("Packed")[0] if c.isdigit()) or 16)
        img = (img.astype(np.uint32) >> max(0, bits - 8)).clip(0, 255).astype(np.uint8)
    if fmt.startswith("Bayer") and channels == 1 and fmt[:7] in _BAYER:
        return cv2.cvtColor(np.ascontiguousarray(img), _BAYER[fmt[:7]])
    if fmt.startswith("BGR") and channels >= 3:
        return np.ascontiguousarray(img[:, :, 2::-1])
    if fmt.startswith(("Mono", "RGB")):
        return img
    return f"pixel format {fmt} is not supported; choose Mono8, RGB8, BGR8 or a Bayer format"


class _GenTLDriver(CameraDriver):
    def __init__(self, settings: CameraSettings) -> None:
        self.harvester = _harvester(settings.producer)
        self.acquirer = None
        try:
            devices = self.harvester.device_info_list
            wanted = [i for i, d in enumerate(devices) if not settings.serial or d.serial_number == settings.serial]
            index = wanted[0] if wanted else None
            if index is None:
                which = f"GenICam camera {settings.serial}" if settings.serial else "any GenICam camera"
                raise CameraNotFound(f"{which} not found")
            self.info = _info(devices[index])
            self.acquirer = self.harvester.create(index)
            self.features = _GenApiFeatures(self.acquirer.remote_device.node_map)
            self.notes = apply_settings(self.features, settings)
            self.acquirer.start()
        except BaseException:
            self.close()
            raise

    def grab(self, timeout: float) -> np.ndarray | str | None:
        try:
            buffer = self.acquirer.try_fetch(timeout=timeout)
        except Exception as exc:
            raise CameraLost(_short(exc)) from None
        if buffer is None:
            return None
        with buffer:
            c = buffer.payload.components[0]
            return np.array(component_image(c.data, c.width, c.height, str(c.data_format)), copy=True)

    def lost(self) -> bool:
        try:
            return not self.acquirer.is_valid()
        except Exception:
            return True

    def software_trigger(self) -> bool:
        if not self.features.has("TriggerSoftware"):
            return False
        self.features.set("TriggerSoftware", True)
        return True

    def close(self) -> None:
        acquirer = self.acquirer
        steps = (acquirer.stop, acquirer.destroy) if acquirer is not None else ()
        release_quietly(*steps, self.harvester.reset)


class GenTLCameraSource(IndustrialCameraSource):
    """A GenICam camera of the configured producer, found by serial number (or the first one)."""

    backend = "genicam"

    def _open(self) -> None:
        status = gentl_status()
        if status.reason == NOT_INSTALLED:
            from core.sources.base import SourceError

            raise SourceError(status.reason)
        super()._open()  # a missing producer is retried like a missing camera: it may be on a drive not yet up

    def _driver(self) -> CameraDriver:
        return _GenTLDriver(self.settings)
