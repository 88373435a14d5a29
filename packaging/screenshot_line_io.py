"""Screenshot of the Line I/O page for docs/operator-guide.md, taken offscreen.

    python packaging/screenshot_line_io.py --home HOME [--out docs/screenshots]

``HOME`` is an LLAD home with a trained category "tiles" (tests/gui/conftest.py's ``train_tiles`` makes one); it
is copied to a temporary folder. Modbus, OPC UA, REST and a webhook (to a local receiver) are switched on; a
Modbus client plays the PLC for three triggers on MTD test images, and one image is posted to the REST API.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MTD = REPO.parent / "shared" / "datasets" / "mtd"


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llad-shot-line-"))
    os.environ["HOME"] = str(tmp)
    home = tmp / "home"
    shutil.copytree(args.home, home)

    import httpx
    from pymodbus.client import ModbusTcpClient
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    QCoreApplication.setOrganizationName("LLAD")
    app = QApplication([])

    from core.lineio import LineConfig
    from llad_gui.pages.line_io_page import LineIOPage
    from llad_gui.state import AppState

    def wait(condition, timeout=300.0):
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the page did not get there in time")
            app.processEvents()
            time.sleep(0.02)

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    state = AppState(home)
    state.set_category("tiles")
    wait(lambda: state.predictor is not None)
    page = LineIOPage(state)
    config = LineConfig(station="press-line-2", trigger_source=str(MTD / "test" / "break"))
    config.modbus.enabled, config.opcua.enabled, config.rest.enabled, config.webhook.enabled = True, True, True, True
    config.modbus.port, config.opcua.port, config.rest.port = 5020, 4840, 8765
    config.webhook.url = f"http://127.0.0.1:{receiver.server_address[1]}/mes/inspections"
    page.controller.save(config)
    page._reload()
    page.resize(1440, 700)
    page.show()
    page.controller.start()
    wait(lambda: page.controller.running)
    plc = ModbusTcpClient("127.0.0.1", port=5020)
    plc.connect()
    plc.write_coil(0, True)
    for _ in range(3):
        wait(lambda: plc.read_discrete_inputs(0, count=8).bits[0])
        plc.write_coil(1, True)
        plc.write_coil(1, False)
        wait(lambda: plc.read_discrete_inputs(0, count=8).bits[3])
        plc.write_coil(2, True)
        plc.write_coil(2, False)
    image = sorted((MTD / "test" / "good").iterdir())[0]
    httpx.post("http://127.0.0.1:8765/inspect", files={"image": (image.name, image.read_bytes())}, timeout=60)
    wait(lambda: page.states.get("webhook") and page.states["webhook"].sent == 4)
    page.table.selectRow(0)
    for _ in range(10):
        app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "line_io.png"
    page.grab().save(str(path))
    print("wrote", path)
    plc.close()
    page.shutdown()
    state.close()
    receiver.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
