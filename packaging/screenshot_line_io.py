"""Screenshot of the Line I/O page for docs/operator-guide.md, taken offscreen in the real main window at
1024 x 768 (the smallest panel the window is laid out for).

    python packaging/screenshot_line_io.py [--home HOME] [--out docs/screenshots]

``HOME`` is an LLAD home with a trained category "tiles" (tests/gui/conftest.py's ``train_tiles`` makes one); it is
copied to a temporary folder. Without it, a "tiles" category is trained here on 14 MTD good images (tiny preset).
Modbus, OPC UA, REST and a webhook (to a local receiver) are switched on; a Modbus client plays the PLC for three
triggers on MTD test images, and one image is posted to the REST API.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from screenshots_pages import MTD, REPO, SIZE, shoot, wait  # sets the offscreen platform and the import path


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def trained_home(home: Path) -> None:
    """A home with "tiles" trained (tiny preset, 14 MTD good images) and active."""
    from core.data.io import list_images
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    recipe = RecipeStore(home / "recipes").create("tiles")
    recipe.import_samples(list_images(MTD / "train" / "good")[:14])
    print("training tiles (tiny)…")
    recipe.save_version(run_fit(recipe.samples(), preset("tiny", steps=15), calibration_defects=6), activate=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, help="an LLAD home with 'tiles' trained (default: train one here)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llad-shot-line-"))
    os.environ["HOME"] = str(tmp)
    home = tmp / "home"
    if args.home:
        shutil.copytree(args.home, home)
    else:
        trained_home(home)

    import httpx
    from pymodbus.client import ModbusTcpClient
    from PySide6.QtCore import QCoreApplication, QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    QCoreApplication.setOrganizationName("LLAD")

    from core.lineio import LineConfig
    from llad_gui.app import build_window, make_application

    app = make_application()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    state, window = build_window(home, category="tiles")
    window.resize(*SIZE)
    window.show()
    wait(app, lambda: state.predictor is not None, timeout=3600.0)
    page = window.pages["Line I/O"]
    config = LineConfig(station="press-line-2", trigger_source=str(MTD / "test" / "break"))
    config.modbus.enabled, config.opcua.enabled, config.rest.enabled, config.webhook.enabled = True, True, True, True
    config.modbus.port, config.opcua.port, config.rest.port = 5020, 4840, 8765
    config.webhook.url = f"http://127.0.0.1:{receiver.server_address[1]}/mes/inspections"
    page.controller.save(config)
    page._reload()
    window.show_page("Line I/O")
    failures: list[str] = []
    page.controller.failed.connect(failures.append)
    page.controller.start()
    wait(app, lambda: page.controller.running or failures, timeout=1800.0)
    if failures:
        raise RuntimeError(failures[0])
    plc = ModbusTcpClient("127.0.0.1", port=5020)
    plc.connect()
    plc.write_coil(0, True)
    for _ in range(3):
        wait(app, lambda: plc.read_discrete_inputs(0, count=8).bits[0])
        plc.write_coil(1, True)
        plc.write_coil(1, False)
        wait(app, lambda: plc.read_discrete_inputs(0, count=8).bits[3])
        plc.write_coil(2, True)
        plc.write_coil(2, False)
    image = sorted((MTD / "test" / "good").iterdir())[0]
    httpx.post("http://127.0.0.1:8765/inspect", files={"image": (image.name, image.read_bytes())}, timeout=900)
    wait(app, lambda: page.states.get("webhook") and page.states["webhook"].sent == 4)
    page.table.selectRow(0)
    args.out.mkdir(parents=True, exist_ok=True)
    shoot(app, window, args.out / "line_io.png")
    plc.close()
    window.close()
    state.close()
    receiver.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
