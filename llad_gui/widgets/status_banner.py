"""A coloured strip above the image for what the operator must notice about the source: a camera that
dropped out (and when it retries), the end of a folder. Hidden while everything flows."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from core.sources import SourceStatus, StatusKind

LEVELS = {
    StatusKind.DISCONNECTED: "bannerAlarm",
    StatusKind.END: "bannerInfo",
    StatusKind.INFO: "bannerInfo",
}


class StatusBanner(QLabel):
    """``show_status`` shows a :class:`SourceStatus` (connected/reconnected hide the banner)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setObjectName("bannerInfo")
        self.hide()

    def show_status(self, status: SourceStatus) -> None:
        if status.kind in (StatusKind.CONNECTED, StatusKind.RECONNECTED):
            self.hide()
            return
        prefix = "Camera / stream lost: " if status.kind is StatusKind.DISCONNECTED else ""
        self.show_text(prefix + status.message, LEVELS.get(status.kind, "bannerInfo"))

    def show_text(self, text: str, level: str = "bannerInfo") -> None:
        self.setText(text)
        if self.objectName() != level:
            self.setObjectName(level)
            self.style().unpolish(self)
            self.style().polish(self)
        self.show()
