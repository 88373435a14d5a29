"""The Line I/O page: each line link's state (listening, connected clients, last message, queued and undelivered
results), a switch per link, the selected link's settings, and start/stop. Layout only: the links run in
:class:`~core.lineio.LineHub`, started and stopped by :class:`~llad_gui.workers.line_io.LineIOController`."""

from __future__ import annotations

import copy
import time
from dataclasses import fields

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.lineio import LINKS, LinkState
from llad_gui.workers.line_io import LineIOController

TITLES = {"modbus": "Modbus TCP", "opcua": "OPC UA", "mqtt": "MQTT", "webhook": "Webhook", "rest": "REST API"}
COLUMNS = ("On", "Link", "State", "Address", "Clients", "Last message", "Sent", "Queued", "Undelivered", "Error")
SECRET_FIELDS = ("password", "api_key")


class LineIOPage(QWidget):
    """Line links of the current category: state table, switches, settings form, start/stop."""

    def __init__(self, state, parent=None, controller: LineIOController | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller or LineIOController(state, self)
        self.states: dict[str, LinkState] = {}
        self._editors: dict[str, QWidget] = {}
        self._build()
        c = self.controller
        c.linkState.connect(self.show_state)
        c.runningChanged.connect(self._running_changed)
        c.failed.connect(self._failed)
        self.table.currentCellChanged.connect(lambda row, *_: self._show_settings(LINKS[max(0, row)]))
        self._reload()

    def _build(self) -> None:
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        self.start_button = QPushButton("Start line links")
        self.start_button.clicked.connect(self.toggle_running)
        self.status = QLabel("stopped")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.status)
        top.addWidget(self.start_button)

        self.table = QTableWidget(len(LINKS), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Last message"), QHeaderView.ResizeMode.Stretch)
        self.switches: dict[str, QCheckBox] = {}
        for row, name in enumerate(LINKS):
            box = QCheckBox()
            box.setToolTip(f"Switch {TITLES[name]} on or off for this category")
            box.toggled.connect(lambda on, n=name: self.set_enabled(n, on))
            holder = QWidget()
            lay = QHBoxLayout(holder)
            lay.setContentsMargins(6, 0, 6, 0)
            lay.addWidget(box)
            self.table.setCellWidget(row, 0, holder)
            self.switches[name] = box
            self.table.setItem(row, 1, QTableWidgetItem(TITLES[name]))
            for col in range(2, len(COLUMNS)):
                self.table.setItem(row, col, QTableWidgetItem(""))

        self.settings_box = QGroupBox("Settings")
        box_layout = QVBoxLayout(self.settings_box)
        self.form = QFormLayout()
        box_layout.addLayout(self.form)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Save these settings for the category (running links restart with them)")
        self.apply_button.clicked.connect(self.apply_settings)
        box_layout.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignRight)
        self.trigger_source = QLineEdit()
        self.trigger_source.setPlaceholderText("folder of images a trigger inspects in turn (optional)")
        station = QGroupBox("Station")
        sform = QFormLayout(station)
        self.station_name = QLineEdit()
        sform.addRow("Station name", self.station_name)
        sform.addRow("Trigger images", self.trigger_source)
        self.camera_timeout = QDoubleSpinBox()
        self.camera_timeout.setRange(0.1, 600.0)
        self.camera_timeout.setSuffix(" s")
        self.camera_timeout.setToolTip(
            "With a camera on software trigger open on the Inspect page, a line trigger takes its picture; "
            "no picture within this time is answered with error code 8"
        )
        sform.addRow("Camera timeout", self.camera_timeout)

        lower = QHBoxLayout()
        lower.addWidget(station, 1)
        lower.addWidget(self.settings_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(lower)

    # ---- settings ---------------------------------------------------------------------------------------
    def _reload(self) -> None:
        config = self.controller.config
        self.title.setText(f"<b>Line I/O</b> · settings of {self.controller.key}")
        self.station_name.setText(config.station)
        self.trigger_source.setText(config.trigger_source)
        self.camera_timeout.setValue(config.camera_timeout)
        for name, box in self.switches.items():
            box.blockSignals(True)
            box.setChecked(config.link(name).enabled)
            box.blockSignals(False)
        self._show_settings(LINKS[max(0, self.table.currentRow())])

    def _show_settings(self, name: str) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._editors = {}
        self._shown = name
        section = self.controller.config.link(name)
        self.settings_box.setTitle(f"{TITLES[name]} settings")
        for f in fields(section):
            if f.name == "enabled":
                continue
            value = getattr(section, f.name)
            if isinstance(value, bool):
                editor = QCheckBox()
                editor.setChecked(value)
            elif isinstance(value, int):
                editor = QSpinBox()
                editor.setRange(0, 65535)
                editor.setValue(value)
            elif isinstance(value, float):
                editor = QDoubleSpinBox()
                editor.setRange(0.0, 10000.0)
                editor.setValue(value)
            else:
                editor = QLineEdit(str(value))
                if f.name in SECRET_FIELDS:
                    editor.setEchoMode(QLineEdit.EchoMode.Password)
            self._editors[f.name] = editor
            self.form.addRow(f.name.replace("_", " "), editor)

    def _edited_config(self):
        config = copy.deepcopy(self.controller.config)
        config.station = self.station_name.text().strip() or config.station
        config.trigger_source = self.trigger_source.text().strip()
        config.camera_timeout = self.camera_timeout.value()
        section = config.link(self._shown)
        for name, editor in self._editors.items():
            if isinstance(editor, QCheckBox):
                value = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                value = editor.value()
            else:
                value = editor.text().strip()
            setattr(section, name, value)
        return config

    def apply_settings(self) -> None:
        if self.controller.save(self._edited_config()):
            self.state.message.emit(f"line settings of {self.controller.key} saved")

    def set_enabled(self, name: str, on: bool) -> None:
        """Switch one link on or off (saved for the category; a running hub restarts with it)."""
        config = copy.deepcopy(self.controller.config)
        config.link(name).enabled = on
        if not self.controller.save(config):
            self._reload()

    # ---- running state ----------------------------------------------------------------------------------
    def toggle_running(self) -> None:
        if self.controller.running:
            self.controller.stop()
        else:
            self.controller.start()
        self.start_button.setEnabled(False)

    def _running_changed(self, running: bool) -> None:
        self.start_button.setEnabled(True)
        self.start_button.setText("Stop line links" if running else "Start line links")
        self.status.setText("running" if running else "stopped")
        if not running:
            self._reload()
            for row, name in enumerate(LINKS):
                for col in range(2, len(COLUMNS)):
                    self.table.item(row, col).setText("")
                if self.controller.config.link(name).enabled:
                    self.table.item(row, COLUMNS.index("State")).setText("off")

    def _failed(self, message: str) -> None:
        self.start_button.setEnabled(True)
        self.status.setText("error")
        self.status.setToolTip(message)
        self.state.message.emit(message)
        self._reload()

    def show_state(self, s: LinkState) -> None:
        """Show one link's state in its row."""
        self.states[s.name] = s
        row = LINKS.index(s.name)
        when = time.strftime("%H:%M:%S ", time.localtime(s.last_time)) if s.last_time else ""
        values = {
            "State": s.status,
            "Address": s.address,
            "Clients": str(s.clients),
            "Last message": f"{when}{s.last_message}",
            "Sent": str(s.sent),
            "Queued": str(s.queued),
            "Undelivered": str(s.undelivered),
            "Error": s.error,
        }
        for col, key in enumerate(COLUMNS):
            if key in values:
                item = self.table.item(row, col)
                item.setText(values[key])
                item.setToolTip(values[key])
        self.table.item(row, COLUMNS.index("State")).setForeground(
            Qt.GlobalColor.darkGreen if s.status in ("listening", "connected") else Qt.GlobalColor.darkRed
        )

    def shutdown(self) -> None:
        self.controller.shutdown()
