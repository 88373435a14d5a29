"""Frame sources: folders, paired folders, cameras/streams/video files, hot folders and industrial (GenICam)
cameras behind one protocol.

Every source is a :class:`FrameSource`: ``open()``, then ``read()`` (or ``events(stop)``) until ``None``, then
``close()``; ``stop()`` from any thread ends it promptly. Events are a :class:`~core.types.Frame`, a
:class:`LoadProblem` (one bad item; the run goes on) or a :class:`SourceStatus`. No Qt here: the GUI runs a
source in its acquisition worker, the CLI and tests iterate it directly.
"""

from core.sources.base import (
    FrameSource,
    LoadProblem,
    Reconnector,
    SourceError,
    SourceEvent,
    SourceStatus,
    StatusKind,
)
from core.sources.camera_settings import CameraSettings, TriggerMode
from core.sources.cameras import camera_backends, camera_source, list_cameras
from core.sources.folder import FileListSource, FolderSource, IndexedSource, PairedFolderSource
from core.sources.hotfolder import HotFolderSource
from core.sources.industrial import CameraInfo, IndustrialCameraSource
from core.sources.video import VideoSource, redact_url
from core.types import Frame

__all__ = [
    "CameraInfo",
    "CameraSettings",
    "IndustrialCameraSource",
    "TriggerMode",
    "camera_backends",
    "camera_source",
    "list_cameras",
    "FileListSource",
    "FolderSource",
    "Frame",
    "FrameSource",
    "HotFolderSource",
    "IndexedSource",
    "LoadProblem",
    "PairedFolderSource",
    "Reconnector",
    "SourceError",
    "SourceEvent",
    "SourceStatus",
    "StatusKind",
    "VideoSource",
    "redact_url",
]
