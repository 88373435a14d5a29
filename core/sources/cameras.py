"""One entry point to the industrial camera back-ends: which load here, which cameras they see, and the source
for a category's :class:`~core.sources.camera_settings.CameraSettings`.

The GUI's source list, ``llad selftest`` and the CLI ask here instead of importing a camera library; each
back-end imports its library only when asked, so a missing one costs nothing and is explained.
"""

from __future__ import annotations

from core.sources.camera_settings import CameraSettings
from core.sources.industrial import BackendStatus, CameraInfo, IndustrialCameraSource


def camera_backends(producer: str = "") -> dict[str, BackendStatus]:
    """``{"basler": ..., "genicam": ...}``: whether each back-end can be used, and if not, why."""
    from core.sources.gentl_camera import gentl_status
    from core.sources.pylon_camera import pylon_status

    return {"basler": pylon_status(), "genicam": gentl_status(producer)}


def list_cameras(backend: str, producer: str = "") -> list[CameraInfo]:
    """The cameras ``backend`` sees now (may take a second on a network: call it off the GUI thread)."""
    if backend == "basler":
        from core.sources.pylon_camera import list_pylon_cameras

        return list_pylon_cameras()
    if backend == "genicam":
        from core.sources.gentl_camera import list_gentl_cameras

        return list_gentl_cameras(producer)
    raise ValueError(f"unknown camera back-end {backend!r}")


def camera_source(settings: CameraSettings, **kwargs) -> IndustrialCameraSource:
    """The frame source for ``settings`` (connects on the first read; see IndustrialCameraSource)."""
    if settings.backend == "basler":
        from core.sources.pylon_camera import PylonCameraSource

        return PylonCameraSource(settings, **kwargs)
    from core.sources.gentl_camera import GenTLCameraSource

    return GenTLCameraSource(settings, **kwargs)
