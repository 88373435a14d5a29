"""Basler cameras through Basler's own Python binding, ``pypylon`` (USB3 Vision, GigE Vision, CXP).

``pypylon`` is optional: without it :func:`pylon_status` says "Basler pylon not installed" and nothing else
changes. With the environment variable ``PYLON_CAMEMU=N`` pylon adds N emulated cameras (serials
``0815-0000``...); their ``ImageFilename`` feature replays a folder of images, which is how the tests and a
line rehearsal run without hardware. Device removal is pylon's own ``IsCameraDeviceRemoved``.
"""

from __future__ import annotations

import numpy as np

from core.sources.camera_settings import CameraSettings, TriggerMode, _version
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


def _pylon():
    from pypylon import genicam, pylon

    return pylon, genicam


def pylon_status() -> BackendStatus:
    """Whether pypylon loads here (and its version), or why not."""
    try:
        _pylon()
    except ImportError:
        return BackendStatus("basler", False, "Basler pylon not installed (pip install pypylon)")
    except OSError as exc:  # its shared libraries are there but do not load
        return BackendStatus("basler", False, f"Basler pylon does not load: {exc}")
    return BackendStatus("basler", True, version=_version("pypylon"))


def list_pylon_cameras() -> list[CameraInfo]:
    """Every Basler camera pylon sees now (emulated ones included when ``PYLON_CAMEMU`` is set)."""
    if not pylon_status().available:
        return []
    pylon, _ = _pylon()
    return [_info(d) for d in pylon.TlFactory.GetInstance().EnumerateDevices()]


def _info(device) -> CameraInfo:
    return CameraInfo("basler", device.GetSerialNumber(), device.GetModelName(), device.GetVendorName())


class _PylonFeatures(FeatureAccess):
    def __init__(self, nodemap) -> None:
        self.nodemap = nodemap
        _, self.genicam = _pylon()

    def _node(self, name: str):
        node = self.nodemap.GetNode(name)
        try:
            return node if node is not None and self.genicam.IsWritable(node) else None
        except Exception:  # a placeholder for a feature the camera does not have
            return None

    def has(self, name: str) -> bool:
        return self._node(name) is not None

    def get(self, name: str) -> object | None:
        node = self.nodemap.GetNode(name)
        try:
            return node.GetValue() if node is not None and self.genicam.IsReadable(node) else None
        except Exception:  # a command, or a placeholder for a feature the camera does not have
            return None

    def set(self, name: str, value: object) -> object:
        g, node = self.genicam, self._node(name)
        if node is None:
            raise KeyError(name)
        if isinstance(node, g.IFloat):
            node.SetValue(min(max(float(value), node.GetMin()), node.GetMax()))
        elif isinstance(node, g.IInteger):
            lo, step = node.GetMin(), max(1, node.GetInc())
            v = min(max(int(round(float(value))), lo), node.GetMax())
            node.SetValue(lo + (v - lo) // step * step)
        elif isinstance(node, g.IBoolean):
            node.SetValue(value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "on"))
        elif isinstance(node, g.ICommand):
            node.Execute()
            return value
        else:
            node.SetValue(str(value))
        return node.GetValue()

    def choices(self, name: str) -> tuple[str, ...]:
        node = self._node(name)
        return tuple(node.GetSymbolics()) if node is not None and isinstance(node, self.genicam.IEnumeration) else ()


class _PylonDriver(CameraDriver):
    def __init__(self, settings: CameraSettings) -> None:
        self.pylon, _ = _pylon()
        pylon = self.pylon
        factory = pylon.TlFactory.GetInstance()
        serial = settings.serial
        devices = [d for d in factory.EnumerateDevices() if not serial or d.GetSerialNumber() == serial]
        if not devices:
            which = f"Basler camera {settings.serial}" if settings.serial else "any Basler camera"
            raise CameraNotFound(f"{which} not found")
        self.info = _info(devices[0])
        self.camera = pylon.InstantCamera(factory.CreateDevice(devices[0]))
        try:
            self.camera.Open()
            self.features = _PylonFeatures(self.camera.GetNodeMap())
            self.notes = apply_settings(self.features, settings)
            self.converter = pylon.ImageFormatConverter()
            self.converter.OutputPixelFormat = pylon.PixelType_RGB8packed
            # free run: only the newest image matters; triggered: every triggered image is one part
            free = settings.trigger is TriggerMode.FREE_RUN
            self.camera.StartGrabbing(pylon.GrabStrategy_LatestImageOnly if free else pylon.GrabStrategy_OneByOne)
        except BaseException:
            self.close()
            raise

    def grab(self, timeout: float) -> np.ndarray | str | None:
        pylon = self.pylon
        try:
            result = self.camera.RetrieveResult(max(1, int(timeout * 1000)), pylon.TimeoutHandling_Return)
        except Exception as exc:
            raise CameraLost(_short(exc)) from None
        if result is None or not result.IsValid():
            return None
        try:
            if not result.GrabSucceeded():
                return f"damaged frame: {result.GetErrorDescription()} (error {result.GetErrorCode():#x})"
            if result.GetPixelType() in (pylon.PixelType_Mono8, pylon.PixelType_RGB8packed):
                return np.array(result.GetArray(), copy=True)
            return np.array(self.converter.Convert(result).GetArray(), copy=True)
        finally:
            result.Release()

    def lost(self) -> bool:
        try:
            return bool(self.camera.IsCameraDeviceRemoved())
        except Exception:
            return True

    def software_trigger(self) -> bool:
        pylon = self.pylon
        if not self.camera.WaitForFrameTriggerReady(200, pylon.TimeoutHandling_Return):
            return False
        self.camera.ExecuteSoftwareTrigger()
        return True

    def close(self) -> None:
        release_quietly(self.camera.StopGrabbing, self.camera.Close, self.camera.DestroyDevice)


class PylonCameraSource(IndustrialCameraSource):
    """A Basler camera found by serial number (or the first one), with the category's settings."""

    backend = "basler"

    def _open(self) -> None:
        status = pylon_status()
        if not status.available:
            from core.sources.base import SourceError

            raise SourceError(status.reason)
        super()._open()

    def _driver(self) -> CameraDriver:
        return _PylonDriver(self.settings)
