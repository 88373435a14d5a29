"""Helpers of the line I/O tests: free ports, polling as a PLC polls, a PLC on a real Modbus client, a webhook receiver,
and a hub over a real file source."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pymodbus.client import ModbusTcpClient

from core.lineio import LineConfig, LineHub, SourceAcquirer, Station
from core.lineio.modbus import ACK, BUSY, READY, RESULT_VALID, TRIGGER, TRIGGER_ACK
from core.log import InspectionLog
from core.sources.folder import FileListSource


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll ``condition`` (as a PLC or a client polls) until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Line:
    """A hub on ``config`` whose triggers inspect ``images`` in turn (a real file source, replayed)."""

    def __init__(self, config: LineConfig, predictor, images: list[Path], log: InspectionLog, acquire=None):
        self.source = FileListSource(images, name="line-test")
        self.source.open()
        self.station = Station(predictor, acquire or SourceAcquirer(self.source), log=log, station=config.station)
        self.hub = LineHub(config, self.station)
        self.log = log

    def __enter__(self) -> Line:
        self.hub.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub.stop()
        self.source.close()


def modbus_config(buffer: bool = False) -> LineConfig:
    config = LineConfig(station="cell-7")
    config.modbus.enabled = True
    config.modbus.port = free_port()
    config.modbus.buffer_results = buffer
    config.modbus.buffer_size = 2
    return config


class Plc:
    """What a PLC program does, one rung a method, through a real Modbus TCP client."""

    def __init__(self, port: int) -> None:
        self.client = ModbusTcpClient("127.0.0.1", port=port, timeout=10)
        assert self.client.connect()

    def inputs(self) -> list[bool]:
        return self.client.read_discrete_inputs(0, count=8).bits[:8]

    def registers(self) -> list[int]:
        return self.client.read_input_registers(0, count=8).registers

    def coil(self, address: int, value: bool):
        return self.client.write_coil(address, value)

    def inspection_id(self) -> int:
        r = self.registers()
        return r[0] << 16 | r[1]

    def close(self) -> None:
        self.client.close()


def handshake(plc: Plc) -> tuple[list[bool], list[int]]:
    """enable -> trigger -> trigger ack + busy -> drop trigger -> result valid -> read -> ack -> drop ack."""
    wait_for(lambda: plc.inputs()[READY], what="ready")
    assert not plc.coil(TRIGGER, True).isError()
    seen = plc.inputs()
    assert seen[TRIGGER_ACK] and not seen[READY]  # the trigger was taken; busy unless already finished
    assert seen[BUSY] or seen[RESULT_VALID]
    plc.coil(TRIGGER, False)
    wait_for(lambda: not plc.inputs()[TRIGGER_ACK], what="trigger ack to drop")
    inputs = wait_for(lambda: (i := plc.inputs())[RESULT_VALID] and i, what="result valid")
    registers = plc.registers()
    assert not inputs[BUSY] and inputs[READY]
    plc.coil(ACK, True)
    assert not plc.inputs()[RESULT_VALID]
    plc.coil(ACK, False)
    return inputs, registers


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it; can be stopped and started again."""

    def __init__(self, port: int, status: int = 200) -> None:
        self.port, self.status = port, status
        self.bodies: list[dict] = []
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None
