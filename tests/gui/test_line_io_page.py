"""The Line I/O page on the real application state: switch Modbus on, start the links, see the link listening, a
PLC client connected and its trigger's result as the last message; settings persisted per category; every link
stopped when the page shuts down."""

from __future__ import annotations

import json
import socket

import pytest
from pymodbus.client import ModbusTcpClient

from core.lineio import LINKS
from core.lineio.modbus import ENABLE, RESULT_VALID, TRIGGER
from tests.gui.conftest import wait_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def page(qtbot, tiles_state, show_page):
    from llad_gui.pages.line_io_page import LineIOPage

    wait_model(qtbot, tiles_state)
    return show_page(LineIOPage, tiles_state)


def cell(page, link: str, column: str) -> str:
    from llad_gui.pages.line_io_page import COLUMNS

    return page.table.item(LINKS.index(link), COLUMNS.index(column)).text()


def test_switch_start_trigger_and_stop(qtbot, page, gui_home, parts_root):
    port = free_port()
    page.table.selectRow(LINKS.index("modbus"))
    assert page.settings_box.title() == "Modbus TCP settings"
    page._editors["port"].setValue(port)
    page.trigger_source.setText(str(parts_root / "test" / "good"))
    page.apply_settings()
    page.switches["modbus"].setChecked(True)
    saved = json.loads((gui_home / "lineio" / "tiles.json").read_text())
    assert saved["modbus"]["enabled"] and saved["modbus"]["port"] == port
    assert saved["trigger_source"].endswith("good")

    with qtbot.waitSignal(page.controller.runningChanged, timeout=30_000):
        page.start_button.click()
    qtbot.waitUntil(lambda: cell(page, "modbus", "State") == "listening", timeout=10_000)
    assert cell(page, "modbus", "Address") == f"127.0.0.1:{port}"
    assert cell(page, "rest", "State") == "" and page.start_button.text() == "Stop line links"

    plc = ModbusTcpClient("127.0.0.1", port=port, timeout=10)
    try:
        assert plc.connect()
        qtbot.waitUntil(lambda: cell(page, "modbus", "Clients") == "1", timeout=10_000)
        plc.write_coil(ENABLE, True)
        assert not plc.write_coil(TRIGGER, True).isError()
        qtbot.waitUntil(lambda: "result" in cell(page, "modbus", "Last message"), timeout=60_000)
        assert plc.read_discrete_inputs(0, count=8).bits[RESULT_VALID]
        assert cell(page, "modbus", "Sent") == "1"
    finally:
        plc.close()
    rows = page.state.log.query()
    assert len(rows) == 1 and rows[0].source == "line trigger"
    assert rows[0].image_ref.startswith(str(parts_root / "test" / "good"))

    with qtbot.waitSignal(page.controller.runningChanged, timeout=30_000):
        page.start_button.click()
    assert page.start_button.text() == "Start line links" and cell(page, "modbus", "State") == "off"
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_unsafe_settings_are_refused_with_a_message(qtbot, page, gui_home):
    page.table.selectRow(LINKS.index("rest"))
    page._editors["host"].setText("0.0.0.0")
    with qtbot.waitSignal(page.controller.failed, timeout=5000) as blocker:
        page.apply_settings()
        page.switches["rest"].setChecked(True)
    assert "API key" in blocker.args[0]
    assert not page.switches["rest"].isChecked()
    assert (
        not (gui_home / "lineio" / "tiles.json").exists()
        or not json.loads((gui_home / "lineio" / "tiles.json").read_text())["rest"]["enabled"]
    )
