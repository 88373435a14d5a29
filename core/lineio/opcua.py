"""OPC UA server: the station as an object with Ready, Busy, Verdict, Score, InspectionId, Category variables and a
Trigger method, for SCADA/MES clients that speak OPC UA.

Endpoint ``opc.tcp://<host>:<port>/llad/``, no security (a line network; bind to the machine's line interface),
namespace URI from the settings (default ``urn:llad-inspector:line``). Under ``Objects`` there is one object named
after the station, with (browse names in that namespace):

    Ready (Boolean)        a trigger would be accepted now: a model is loaded and nothing is running
    Busy (Boolean)         an inspection is running
    InspectionId (Int64)   id of the last result (the log's row id); 0 before the first
    Verdict (String)       OK, NG, UNCERTAIN or ERROR
    Score (Double)         normalised score (1.0 = the NG threshold)
    Category (String)      the category of the last result
    ErrorCode (Int32)      0 or one of :class:`~core.lineio.payload.ErrorCode`
    LastError (String)     the last error in words
    ResultJson (String)    the whole result as JSON (the fields of the log row)
    Trigger() -> (InspectionId Int64, Verdict String)
        runs one inspection and returns when it is done; BadInvalidState if one is already running.

The variables are read-only for clients; subscribe to InspectionId to be told of each new result.
"""

from __future__ import annotations

import asyncio
import logging

from asyncua import Server, ua

from .hub import LineBusy, Link
from .payload import ErrorCode, LineResult

for _name in ("asyncua", "asyncua.server", "asyncua.server.address_space"):
    logging.getLogger(_name).setLevel(logging.WARNING)

VARIABLES: dict[str, ua.VariantType] = {
    "Ready": ua.VariantType.Boolean,
    "Busy": ua.VariantType.Boolean,
    "InspectionId": ua.VariantType.Int64,
    "Verdict": ua.VariantType.String,
    "Score": ua.VariantType.Double,
    "Category": ua.VariantType.String,
    "ErrorCode": ua.VariantType.Int32,
    "LastError": ua.VariantType.String,
    "ResultJson": ua.VariantType.String,
}
_DEFAULTS = {ua.VariantType.Boolean: False, ua.VariantType.Int64: 0, ua.VariantType.Int32: 0}


class OpcUaLink(Link):
    """The OPC UA server; see the module docstring for the namespace."""

    name = "opcua"

    def __init__(self, hub) -> None:
        super().__init__(hub)
        self.server: Server | None = None
        self.nodes: dict[str, object] = {}
        self.endpoint = f"opc.tcp://{self.config.host}:{self.config.port}/llad/"
        self._clients_task: asyncio.Task | None = None

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"LLAD Inspector {self.hub.config.station}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(self.config.namespace)
        station = await server.nodes.objects.add_object(idx, self.hub.config.station)
        for name, vtype in VARIABLES.items():
            value = _DEFAULTS.get(vtype, 0.0 if vtype is ua.VariantType.Double else "")
            self.nodes[name] = await station.add_variable(idx, name, ua.Variant(value, vtype))
        await station.add_method(idx, "Trigger", self._trigger, [], [ua.VariantType.Int64, ua.VariantType.String])
        await server.start()
        self.server = server
        self.namespace_index = idx
        await self.status_changed()
        self.update(status="listening", address=self.endpoint, error="")
        self._clients_task = asyncio.get_running_loop().create_task(self._watch_clients())

    async def stop(self) -> None:
        if self._clients_task is not None:
            self._clients_task.cancel()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def _watch_clients(self) -> None:
        while self.server is not None:  # asyncua has no connect callback; the count is cheap to read
            clients = len(self.server.iserver.asyncio_transports)
            if clients != self.state.clients:
                self.update(clients=clients, status="connected" if clients else "listening")
            await asyncio.sleep(0.5)

    async def _write(self, name: str, value) -> None:
        await self.nodes[name].write_value(ua.Variant(value, VARIABLES[name]))

    async def _trigger(self, parent) -> list[ua.Variant] | ua.StatusCode:
        self.message("Trigger called")
        try:
            result = await self.hub.trigger("opcua")
        except LineBusy as exc:
            await self._write("ErrorCode", int(ErrorCode.BUSY))
            await self._write("LastError", str(exc))
            self.message(f"refused: {exc}")
            return ua.StatusCode(ua.StatusCodes.BadInvalidState)
        return [ua.Variant(result.inspection_id, ua.VariantType.Int64), ua.Variant(result.verdict.value)]

    async def publish(self, result: LineResult) -> None:
        await self._write("Verdict", result.verdict.value)
        await self._write("Score", float(result.score))
        await self._write("Category", result.category)
        await self._write("ErrorCode", int(result.error_code))
        await self._write("LastError", result.error)
        await self._write("ResultJson", result.to_json())
        await self._write("InspectionId", int(result.inspection_id))  # last: subscribers see a complete result
        self.message(f"result {result.inspection_id}: {result.verdict.value}", sent=self.state.sent + 1)

    async def status_changed(self) -> None:
        if self.nodes:
            await self._write("Busy", self.hub.busy)
            await self._write("Ready", self.hub.ready)
