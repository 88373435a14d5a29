"""Local REST API (FastAPI served by uvicorn on the hub's loop), bound to 127.0.0.1 unless configured otherwise.

Endpoints (JSON in and out; errors are ``{"detail": "..."}`` with the status below):
    ``POST /inspect``  multipart field ``image`` (PNG, JPEG, BMP, TIFF): inspects it, returns the result JSON.
                       413 larger than ``max_upload_mb``; 415 not an image; 409 busy.
    ``POST /trigger``  inspects the next frame of the trigger source; 409 busy, 503 no model, no source or no frame.
    ``GET /status``    station, ready, busy, last id and verdict, every link's state.
    ``GET /results?since=ID``  results with an id above ``ID`` (default 0) from the recent ones kept in memory.
An API key (header ``X-API-Key``) is required when one is configured, and one must be configured to bind to any
other interface than loopback (:meth:`~core.lineio.config.LineConfig.validate`); a wrong or missing key is 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket

import cv2
import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from core.types import Frame

from .hub import LineBusy, LineHub, Link
from .payload import ErrorCode, LineResult

API_KEY_HEADER = "X-API-Key"


def create_app(hub: LineHub, on_request=lambda text: None) -> FastAPI:
    """The API's routes on ``hub``; ``on_request`` is told a one-line summary of each answered request."""
    config = hub.config.rest
    max_bytes = int(config.max_upload_mb * 1024 * 1024)
    app = FastAPI(title="LLAD Inspector line API", version="1")

    def check_key(request: Request) -> None:
        if not config.api_key:
            return
        given = request.headers.get(API_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), config.api_key.encode()):
            on_request(f"{request.method} {request.url.path}: wrong API key")
            raise HTTPException(401, f"missing or wrong API key (send it in the {API_KEY_HEADER} header)")

    async def run(origin: str, frame: Frame | None) -> JSONResponse:
        try:
            result = await hub.trigger(origin, frame)
        except LineBusy as exc:
            on_request(f"{origin}: busy")
            raise HTTPException(409, str(exc)) from None
        on_request(f"{origin}: result {result.inspection_id} {result.verdict.value}")
        return JSONResponse(result.payload, status_code=_status(result))

    @app.post("/inspect", dependencies=[Depends(check_key)])
    async def inspect(request: Request, image: UploadFile) -> JSONResponse:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes + 64 * 1024:
            raise HTTPException(413, f"upload larger than {config.max_upload_mb:g} MB")
        data = await image.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"image larger than {config.max_upload_mb:g} MB")
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if decoded is None:
            on_request(f"/inspect: {image.filename!r} is not an image")
            raise HTTPException(415, f"{image.filename or 'the upload'} is not an image (PNG, JPEG, BMP or TIFF)")
        frame = Frame(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), source="rest", ref=image.filename or "")
        return await run("rest", frame)

    @app.post("/trigger", dependencies=[Depends(check_key)])
    async def trigger() -> JSONResponse:
        return await run("rest", None)

    @app.get("/status", dependencies=[Depends(check_key)])
    async def status() -> dict:
        return hub.status()

    @app.get("/results", dependencies=[Depends(check_key)])
    async def results(since: int = Query(0, ge=0, description="only results with an id above this")) -> list[dict]:
        return hub.results_since(since)

    return app


def _status(result: LineResult) -> int:
    """503 when the station could not inspect at all (no model, no frame, the camera's frame timed out); 200 for
    any verdict, ERROR included."""
    return 503 if result.error_code in (ErrorCode.NO_MODEL, ErrorCode.NO_FRAME, ErrorCode.CAMERA_TIMEOUT) else 200


class RestLink(Link):
    """Serves :func:`create_app` with uvicorn on the hub's loop."""

    name = "rest"

    def __init__(self, hub) -> None:
        super().__init__(hub)
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task | None = None
        self.port = self.config.port

    async def start(self) -> None:
        app = create_app(self.hub, self._request)
        cfg = uvicorn.Config(app, host=self.config.host, port=self.config.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(cfg)
        # bound here, so a port in use is an OSError for this link (uvicorn itself would exit the process)
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if self.task.done():
                raise OSError(f"cannot serve on {self.config.host}:{self.port}")
            await asyncio.sleep(0.01)
        self.update(status="listening", address=f"http://{self.config.host}:{self.port}", error="")

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 10)
        self.server = self.task = None

    def _request(self, text: str) -> None:
        self.message(text, sent=self.state.sent + 1)
