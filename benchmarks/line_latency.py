"""Trigger-to-result-valid latency over Modbus TCP, as a PLC sees it.

Starts a :class:`~core.lineio.LineHub` with only the Modbus link on 127.0.0.1, its station inspecting real MTD
images in turn with a trained model, and plays the PLC with a pymodbus client: for each of ``--count`` parts it
waits for ready, writes the trigger coil, polls the discrete inputs until "result valid", drops the trigger,
acknowledges the result and drops the ack. The latency is from just before the trigger write to the poll that
first sees result valid, so it includes the model's inspection, logging the row and the Modbus round trips.
``--no-model`` measures the link alone: the station answers from a model that returns at once (the overhead of
the hub, the executor hop and Modbus, without inference).

Uses the "tiles" category of ``--home`` (train one with tests/gui/conftest.py's ``train_tiles``, or point it at
any LLAD home with a trained category via ``--category``). Prints a JSON summary and a markdown table row.

    .venv/bin/python benchmarks/line_latency.py --home /tmp/line_home --count 1000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from pymodbus.client import ModbusTcpClient  # noqa: E402

from core.data.io import list_images  # noqa: E402
from core.lineio import LineConfig, LineHub, SourceAcquirer, Station  # noqa: E402
from core.lineio.modbus import ACK, READY, RESULT_VALID, TRIGGER  # noqa: E402
from core.log import InspectionLog  # noqa: E402
from core.predictor import Predictor  # noqa: E402
from core.recipes import RecipeStore  # noqa: E402
from core.sources.folder import FileListSource  # noqa: E402
from core.types import InputMode, InspectionResult, Thresholds  # noqa: E402


class InstantModel:
    """Answers at once with a fixed OK result: isolates the link's own latency."""

    category, version, thresholds = "instant", "0", Thresholds()

    def predict(self, frame) -> InspectionResult:
        return InspectionResult(
            0.1,
            0.1,
            self.thresholds.decide(0.1),
            np.zeros((1, 1), np.float32),
            None,
            self.thresholds,
            InputMode.LOWLIGHT,
            frame=frame,
            category=self.category,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(client: ModbusTcpClient, bit: int, value: bool, timeout: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        bits = client.read_discrete_inputs(0, count=8).bits
        if bits[bit] == value:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"input {bit} did not become {value}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="LLAD home with a trained category")
    ap.add_argument("--category", default="tiles")
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/mtd")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--no-model", action="store_true", help="measure the link alone (an instant model)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    if args.no_model:
        predictor = InstantModel()
    else:
        predictor = Predictor.from_recipe(RecipeStore(args.home / "recipes").get(args.category), device="cpu")
        predictor.warm_up()
    images = list_images(args.data / "test" / "good")[:10] + list_images(args.data / "test" / "break")[:10]
    source = FileListSource(images, name="bench")
    source.open()
    config = LineConfig(station="bench")
    config.modbus.enabled, config.modbus.port = True, free_port()
    with tempfile.TemporaryDirectory() as tmp, InspectionLog(Path(tmp) / "log.sqlite") as log:
        hub = LineHub(config, Station(predictor, SourceAcquirer(source), log=log, station="bench"))
        hub.start()
        client = ModbusTcpClient("127.0.0.1", port=config.modbus.port, timeout=10)
        client.connect()
        client.write_coil(0, True)
        latencies = []
        try:
            for _ in range(args.count):
                wait(client, READY, True)
                t0 = time.perf_counter()
                client.write_coil(TRIGGER, True)
                t1 = wait(client, RESULT_VALID, True)
                latencies.append((t1 - t0) * 1000)
                client.write_coil(TRIGGER, False)
                client.write_coil(ACK, True)
                client.write_coil(ACK, False)
        finally:
            client.close()
            hub.stop()
            source.close()
        rows = log.count()
    lat = np.array(latencies)
    summary = {
        "count": len(latencies),
        "model": "instant" if args.no_model else f"{args.category} (tiny preset), CPU",
        "median_ms": round(float(np.median(lat)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "max_ms": round(float(lat.max()), 2),
        "log_rows": rows,
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
    }
    print(json.dumps(summary, indent=2))
    print(
        f"| {summary['model']} | {summary['count']} | {summary['median_ms']} | {summary['p99_ms']} | "
        f"{summary['max_ms']} | {summary['load_avg_1min']} |"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if rows == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
