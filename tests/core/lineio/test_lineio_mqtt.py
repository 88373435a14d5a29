"""The MQTT link against an in-process amqtt broker on 127.0.0.1: one JSON result per inspection with the log
row's fields, a trigger on the command topic (and a clear reply to a bad one), and results queued while the
broker is down, published once it is up."""

from __future__ import annotations

import asyncio
import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.lineio import LineConfig
from core.log import COLUMNS
from tests.core.lineio.support import Line, free_port, wait_for


class BrokerThread:
    """An amqtt broker on 127.0.0.1:``port`` with its own event loop thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.broker = None

    def start(self) -> BrokerThread:
        from amqtt.broker import Broker

        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        async def run():
            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
            self.broker = Broker(config)
            await self.broker.start()
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)
        assert ready.is_set()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Subscriber:
    """A paho client that keeps the JSON of every message on ``topics``."""

    def __init__(self, port: int, *topics: str) -> None:
        self.messages: dict[str, list] = {t: [] for t in topics}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-subscriber")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages[m.topic].append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_config(port: int, commands: bool = False) -> LineConfig:
    config = LineConfig(station="cell-5")
    config.mqtt.enabled = True
    config.mqtt.port = port
    config.mqtt.command_topic = "llad/{station}/command" if commands else ""
    return config


def test_results_and_commands(line_predictor, parts, line_log):
    port = free_port()
    broker = BrokerThread(port).start()
    sub = Subscriber(port, "llad/cell-5/result", "llad/cell-5/command/reply")
    try:
        with Line(mqtt_config(port, commands=True), line_predictor, [parts["ok"], parts["ng"]], line_log) as line:
            wait_for(lambda: line.hub.states()["mqtt"].status == "connected", what="the link to connect")
            first = line.hub.trigger_threadsafe("test").result(60)
            results = sub.messages["llad/cell-5/result"]
            wait_for(lambda: len(results) == 1, what="the result message")
            body = results[0]
            row = line_log.get(first.inspection_id)
            assert body["id"] == row.id and set(COLUMNS) <= set(body)
            assert body["verdict"] == row.verdict.value == "OK" and body["score"] == pytest.approx(row.score)
            sub.client.publish("llad/cell-5/command", "trigger", qos=1)
            replies = sub.messages["llad/cell-5/command/reply"]
            wait_for(lambda: len(replies) == 1 and len(results) == 2, what="the triggered inspection")
            assert replies[0] == {"ok": True, "id": results[1]["id"], "verdict": "NG"}
            assert results[1]["origin"] == "mqtt"
            sub.client.publish("llad/cell-5/command", json.dumps({"command": "explode"}), qos=1)
            wait_for(lambda: len(replies) == 2, what="the reply to a bad command")
            assert replies[1]["ok"] is False and "unknown command" in replies[1]["error"]
            assert line_log.count() == 2
    finally:
        sub.close()
        broker.stop()


def test_queued_while_the_broker_is_down(line_predictor, parts, line_log):
    port = free_port()
    with Line(mqtt_config(port), line_predictor, [parts["ok"]], line_log) as line:
        ids = [line.hub.trigger_threadsafe("test").result(60).inspection_id for _ in range(2)]
        assert line.hub.states()["mqtt"].queued == 2
        broker = BrokerThread(port).start()
        sub = Subscriber(port, "llad/cell-5/result")
        try:
            results = sub.messages["llad/cell-5/result"]
            wait_for(lambda: len(results) == 2, timeout=60, what="the queued results after the broker came up")
            assert [b["id"] for b in results] == ids
            # the broker's acknowledgements may come just after the subscriber got the messages
            wait_for(lambda: line.hub.states()["mqtt"].sent == 2, what="the broker's acknowledgements")
            assert line.hub.states()["mqtt"].queued == 0
        finally:
            sub.close()
            line.hub.stop()
            broker.stop()
    assert line_log.undelivered() == []
