"""The REST API on 127.0.0.1: inspect an uploaded image, trigger, status, results since an id, and the clear
errors for an oversize or non-image upload, a wrong API key and a request while busy."""

from __future__ import annotations

import threading

import cv2
import httpx
import pytest

from core.data.io import load_image
from core.lineio import LineConfig, LineConfigError, LineHub, Station
from core.log import COLUMNS
from core.types import Verdict
from tests.core.lineio.support import Line, wait_for

KEY = "s3cret-line-key"


def rest_config(api_key: str = "", max_mb: float = 20.0) -> LineConfig:
    config = LineConfig(station="cell-3")
    config.rest.enabled = True
    config.rest.port = 0  # the link reports the port it got
    config.rest.api_key = api_key
    config.rest.max_upload_mb = max_mb
    return config


def png(path) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(load_image(path), cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def client(line: Line) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{line.hub.links['rest'].port}", timeout=60)


def test_inspect_trigger_status_results(line_predictor, parts, line_log):
    with Line(rest_config(), line_predictor, [parts["ok"]], line_log) as line, client(line) as c:
        r = c.post("/inspect", files={"image": ("part.png", png(parts["ng"]), "image/png")})
        assert r.status_code == 200, r.text
        body = r.json()
        row = line_log.get(body["id"])
        assert body["verdict"] == row.verdict.value == Verdict.NG.value
        assert set(COLUMNS) <= set(body) and body["station"] == "cell-3" and body["origin"] == "rest"
        assert body["score"] == pytest.approx(row.score) and body["image_ref"] == "part.png"
        r = c.post("/trigger")
        assert r.status_code == 200 and r.json()["verdict"] == "OK"
        status = c.get("/status").json()
        assert status["ready"] and not status["busy"] and status["last_id"] == r.json()["id"]
        assert status["links"]["rest"]["status"] == "listening"
        assert [x["id"] for x in c.get("/results", params={"since": 0}).json()] == [body["id"], r.json()["id"]]
        assert [x["id"] for x in c.get("/results", params={"since": body["id"]}).json()] == [r.json()["id"]]
        assert c.get("/results", params={"since": "yesterday"}).status_code == 422
    assert line_log.count() == 2


def test_bad_uploads_are_refused_and_nothing_is_logged(line_predictor, parts, line_log):
    with (
        Line(rest_config(max_mb=0.05), line_predictor, [parts["ok"]], line_log) as line,
        client(line) as c,
    ):
        r = c.post("/inspect", files={"image": ("notes.txt", b"not an image at all", "text/plain")})
        assert r.status_code == 415 and "not an image" in r.json()["detail"]
        r = c.post("/inspect", files={"image": ("big.png", png(parts["ok"]) + b"\0" * 60_000, "image/png")})
        assert r.status_code == 413 and "larger than" in r.json()["detail"]
        r = c.post("/inspect")
        assert r.status_code == 422  # no image field at all
        assert c.get("/status").json()["ready"]
    assert line_log.count() == 0


def test_api_key(line_predictor, parts, line_log):
    with Line(rest_config(api_key=KEY), line_predictor, [parts["ok"]], line_log) as line, client(line) as c:
        for headers in ({}, {"X-API-Key": "wrong"}):
            r = c.post("/trigger", headers=headers)
            assert r.status_code == 401 and "API key" in r.json()["detail"]
        assert c.get("/status").status_code == 401
        assert c.post("/trigger", headers={"X-API-Key": KEY}).status_code == 200
    assert line_log.count() == 1


def test_other_interface_needs_an_api_key(line_predictor):
    config = rest_config()
    config.rest.host = "0.0.0.0"
    with pytest.raises(LineConfigError, match="API key"):
        LineHub(config, Station(line_predictor))


def test_busy_answers_409_and_the_running_one_completes(line_predictor, parts, line_log):
    gate = threading.Event()
    image = load_image(parts["ok"])

    def acquire():
        assert gate.wait(30)
        from core.types import Frame

        return Frame(image, source="camera")

    with Line(rest_config(), line_predictor, [], line_log, acquire=acquire) as line, client(line) as c:
        first = line.hub.trigger_threadsafe("plc")
        wait_for(lambda: line.hub.busy, what="busy")
        busy = c.post("/trigger")
        assert busy.status_code == 409 and "busy" in busy.json()["detail"]
        assert c.get("/status").json()["busy"]
        gate.set()
        assert first.result(60).verdict is Verdict.OK
        assert not c.get("/status").json()["busy"]
    assert line_log.count() == 1
