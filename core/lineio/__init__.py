"""Line I/O: the station is triggered by the line and reports each result to it (Modbus TCP, OPC UA, MQTT,
webhook, REST). One asyncio loop on a worker thread (:class:`LineHub`) hosts every link; no Qt here.

Settings per station or category: :mod:`core.lineio.config`. The protocols' details (register map, OPC UA
namespace, topics, endpoints) are in each link's module and in docs/operator-guide.md.
"""

from core.lineio.camera_trigger import CameraReader, CameraTriggerAcquirer, TriggeredFrames
from core.lineio.config import LINKS, LineConfig, LineConfigError, LineConfigStore
from core.lineio.hub import LineBusy, LineHub, LinkState
from core.lineio.payload import ErrorCode, LineResult
from core.lineio.station import AcquisitionError, AcquisitionTimeout, SourceAcquirer, Station

__all__ = [
    "AcquisitionError",
    "AcquisitionTimeout",
    "CameraReader",
    "CameraTriggerAcquirer",
    "TriggeredFrames",
    "LINKS",
    "ErrorCode",
    "LineBusy",
    "LineConfig",
    "LineConfigError",
    "LineConfigStore",
    "LineHub",
    "LineResult",
    "LinkState",
    "SourceAcquirer",
    "Station",
]
