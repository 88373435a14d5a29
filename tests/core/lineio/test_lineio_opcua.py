"""The OPC UA server against an asyncua client: the variables of the documented namespace, the Trigger method,
and a Trigger while busy answered with BadInvalidState while the running inspection completes."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asyncua import Client, ua

from core.data.io import load_image
from core.lineio import LineConfig
from core.types import Frame
from tests.core.lineio.support import Line, free_port, wait_for

NAMESPACE = "urn:llad-inspector:line"


def opcua_config() -> LineConfig:
    config = LineConfig(station="cell-2")
    config.opcua.enabled = True
    config.opcua.port = free_port()
    return config


async def station_node(client: Client):
    idx = await client.get_namespace_index(NAMESPACE)
    return idx, await client.nodes.objects.get_child(f"{idx}:cell-2")


async def read(station, idx: int, name: str):
    return await (await station.get_child(f"{idx}:{name}")).read_value()


def test_variables_and_trigger(line_predictor, parts, line_log):
    config = opcua_config()

    async def scenario():
        async with Client(f"opc.tcp://127.0.0.1:{config.opcua.port}/llad/", timeout=30) as client:
            idx, station = await station_node(client)
            assert await read(station, idx, "Ready") is True and await read(station, idx, "Busy") is False
            assert await read(station, idx, "InspectionId") == 0
            out = []
            for _ in range(2):
                out.append(await station.call_method(f"{idx}:Trigger"))
            values = {n: await read(station, idx, n) for n in ("InspectionId", "Verdict", "Score", "Category")}
            return out, values

    with Line(config, line_predictor, [parts["ok"], parts["ng"]], line_log) as line:
        out, values = asyncio.run(scenario())
        assert line.hub.states()["opcua"].sent == 2
    (id1, verdict1), (id2, verdict2) = out
    assert (verdict1, verdict2) == ("OK", "NG")
    assert line_log.get(id1).verdict.value == "OK" and line_log.get(id2).verdict.value == "NG"
    row = line_log.get(id2)
    assert values["InspectionId"] == id2 and values["Verdict"] == "NG" and values["Category"] == row.category
    assert values["Score"] == pytest.approx(row.score)


def test_trigger_while_busy(line_predictor, parts, line_log):
    config = opcua_config()
    gate = threading.Event()
    image = load_image(parts["ng"])

    def acquire():
        assert gate.wait(30)
        return Frame(image, source="camera")

    async def scenario(hub):
        url = f"opc.tcp://127.0.0.1:{config.opcua.port}/llad/"
        async with Client(url, timeout=30) as first, Client(url, timeout=30) as second:
            idx, station = await station_node(first)
            running = asyncio.create_task(station.call_method(f"{idx}:Trigger"))
            await asyncio.to_thread(wait_for, lambda: hub.busy, 30, "busy")
            idx2, station2 = await station_node(second)
            assert await read(station2, idx2, "Busy") is True and await read(station2, idx2, "Ready") is False
            with pytest.raises(ua.UaStatusCodeError) as refused:
                await station2.call_method(f"{idx2}:Trigger")
            error_code = await read(station2, idx2, "ErrorCode")
            gate.set()
            return await running, refused.value.code, error_code

    with Line(config, line_predictor, [], line_log, acquire=acquire) as line:
        (inspection_id, verdict), code, error_code = asyncio.run(scenario(line.hub))
    assert code == ua.StatusCodes.BadInvalidState and error_code == 1
    assert verdict == "NG" and line_log.get(inspection_id) is not None and line_log.count() == 1
