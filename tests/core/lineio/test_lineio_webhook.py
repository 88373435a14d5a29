"""The webhook sink against a local http.server: delivered with the log row's fields; queued while the receiver is
down and delivered, in order, once it is up; and what a full queue drops is recorded in the log."""

from __future__ import annotations

import json

import pytest

from core.lineio import LineConfig
from core.log import COLUMNS
from tests.core.lineio.support import Line, Receiver, free_port, wait_for


def webhook_config(port: int, queue: int = 100) -> LineConfig:
    config = LineConfig(station="cell-9", queue_size=queue)
    config.webhook.enabled = True
    config.webhook.url = f"http://127.0.0.1:{port}/llad"
    config.webhook.timeout = 2.0
    config.webhook.retry_delay = 0.05
    config.webhook.retry_delay_max = 0.2
    return config


def test_delivered_with_the_log_fields(line_predictor, parts, line_log):
    receiver = Receiver(free_port()).start()
    try:
        with Line(webhook_config(receiver.port), line_predictor, [parts["ok"], parts["ng"]], line_log) as line:
            ids = [line.hub.trigger_threadsafe("test").result(60).inspection_id for _ in range(2)]
            wait_for(lambda: len(receiver.bodies) == 2, what="two webhook calls")
            # the receiver has the second body before the sink has read its answer: wait for the count
            wait_for(lambda: line.hub.states()["webhook"].sent == 2, what="both answers")
            assert line.hub.states()["webhook"].queued == 0
    finally:
        receiver.stop()
    assert [b["id"] for b in receiver.bodies] == ids
    for body in receiver.bodies:
        row = line_log.get(body["id"])
        assert set(COLUMNS) <= set(body)
        assert body["verdict"] == row.verdict.value and body["score"] == pytest.approx(row.score)
        assert body["time"] == row.time and body["category"] == row.category
    assert line_log.undelivered() == []


def test_queued_while_down_then_delivered_in_order(line_predictor, parts, line_log):
    port = free_port()
    receiver = Receiver(port, status=503).start()  # up, but failing
    with Line(webhook_config(port), line_predictor, [parts["ok"], parts["ng"]], line_log) as line:
        ids = [line.hub.trigger_threadsafe("test").result(60).inspection_id for _ in range(2)]
        wait_for(lambda: "503" in line.hub.states()["webhook"].error, what="the 503 to be reported")
        receiver.stop()  # now down: connection refused
        ids.append(line.hub.trigger_threadsafe("test").result(60).inspection_id)  # inspection is not held up
        state = wait_for(lambda: (s := line.hub.states()["webhook"]).queued == 3 and s, what="three queued")
        assert state.status == "error" and state.sent == 0
        receiver.status = 200
        receiver.start()
        wait_for(lambda: len(receiver.bodies) == 3, what="the queued results")
        assert [b["id"] for b in receiver.bodies] == ids
        # the receiver has the body before the sink has its answer: wait for the queue to be emptied, not assume it
        wait_for(lambda: line.hub.states()["webhook"].queued == 0, what="the queue to empty")
    receiver.stop()
    assert line_log.undelivered() == []


def test_full_queue_and_shutdown_record_undelivered(line_predictor, parts, line_log):
    port = free_port()  # nobody listens
    with Line(webhook_config(port, queue=2), line_predictor, [parts["ok"]], line_log) as line:
        ids = [line.hub.trigger_threadsafe("test").result(60).inspection_id for _ in range(3)]
        wait_for(lambda: line.hub.states()["webhook"].undelivered == 1, what="the oldest to be dropped")
    lost = line_log.undelivered("webhook")
    assert [x["inspection_id"] for x in lost] == ids  # the oldest when the queue was full, two at shutdown
    assert "queue full" in lost[0]["reason"] and "stopped" in lost[2]["reason"]
    assert json.loads(lost[0]["payload"])["id"] == ids[0]
    assert line_log.count() == 3
