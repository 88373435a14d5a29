"""Inspection-mask editor: draw include and exclude rectangles and polygons over a reference image.

Layout and mouse handling only: the mask itself is a :class:`core.roi.RoiMask` (normalised coordinates), and the
dialog saves it with :meth:`core.recipes.Recipe.set_roi`. Rectangle: press, drag, release. Polygon: click each
vertex; double-click, a right click or Enter closes it (Esc drops it). The shapes list selects a shape to delete.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import RecipeError
from core.roi import RoiMask, RoiShape, polygon, rectangle

INCLUDE_COLOUR = QColor(46, 204, 113)
EXCLUDE_COLOUR = QColor(231, 76, 60)


class RoiCanvas(QWidget):
    """The reference image with the shapes drawn over it; adds shapes from mouse gestures."""

    shapesChanged = Signal()

    def __init__(self, image_rgb: np.ndarray, mask: RoiMask | None = None, parent=None) -> None:
        super().__init__(parent)
        rgb = np.ascontiguousarray(image_rgb[:, :, :3], dtype=np.uint8)
        h, w = rgb.shape[:2]
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.shapes: list[RoiShape] = list(mask.shapes if mask else ())
        self.tool = "rect"
        self.include = True
        self._drag_start: tuple[float, float] | None = None
        self._drag_now: tuple[float, float] | None = None
        self._poly: list[tuple[float, float]] = []
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def mask(self) -> RoiMask:
        return RoiMask(tuple(self.shapes))

    def image_rect(self) -> QRectF:
        """Where the image is drawn: fitted into the widget, aspect kept, centred."""
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_normalised(self, pos: QPointF) -> tuple[float, float]:
        r = self.image_rect()
        x = (pos.x() - r.left()) / r.width()
        y = (pos.y() - r.top()) / r.height()
        return float(np.clip(x, 0.0, 1.0)), float(np.clip(y, 0.0, 1.0))

    def to_widget(self, point: tuple[float, float]) -> QPointF:
        r = self.image_rect()
        return QPointF(r.left() + point[0] * r.width(), r.top() + point[1] * r.height())

    # ---- editing --------------------------------------------------------------------------------------------
    def add_shape(self, shape: RoiShape) -> bool:
        try:
            shape.validate()
        except RecipeError:
            return False  # a click without a drag, or a polygon with no area: nothing to add
        self.shapes.append(shape)
        self.shapesChanged.emit()
        self.update()
        return True

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.shapes):
            del self.shapes[index]
            self.shapesChanged.emit()
            self.update()

    def clear(self) -> None:
        self.shapes.clear()
        self._poly.clear()
        self.shapesChanged.emit()
        self.update()

    def close_polygon(self) -> None:
        points = [p for i, p in enumerate(self._poly) if i == 0 or p != self._poly[i - 1]]  # a double-click's repeat
        self._poly = []
        if len(points) >= 3:
            self.add_shape(polygon(points, self.include))
        self.update()

    def mousePressEvent(self, event) -> None:
        point = self.to_normalised(event.position())
        if event.button() == Qt.MouseButton.RightButton:
            self.close_polygon()
        elif event.button() == Qt.MouseButton.LeftButton:
            if self.tool == "rect":
                self._drag_start = self._drag_now = point
            else:
                self._poly.append(point)
            self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._drag_start is not None:
            self._drag_now = self.to_normalised(event.position())
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._drag_start is not None:
            start, end = self._drag_start, self.to_normalised(event.position())
            self._drag_start = self._drag_now = None
            self.add_shape(rectangle(*start, *end, include=self.include))
            self.update()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool == "polygon":
            self.close_polygon()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif event.key() == Qt.Key.Key_Escape and self._poly:
            self._poly.clear()
            self.update()
        else:
            super().keyPressEvent(event)

    # ---- drawing --------------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(30, 30, 30))
        p.drawImage(self.image_rect(), self._image)
        for shape in self.shapes:
            self._draw(p, _rect_corners(shape) if shape.kind == "rect" else shape.points, shape)
        if self._drag_start is not None and self._drag_now is not None:
            (x0, y0), (x1, y1) = self._drag_start, self._drag_now
            self._draw(p, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], None)
        if self._poly:
            self._draw(p, self._poly, None, closed=False)
        p.end()

    def _draw(self, p: QPainter, points, shape: RoiShape | None, closed: bool = True) -> None:
        if shape is None:
            colour = INCLUDE_COLOUR if self.include else EXCLUDE_COLOUR
        else:
            colour = INCLUDE_COLOUR if shape.include else EXCLUDE_COLOUR
        poly = QPolygonF([self.to_widget((float(x), float(y))) for x, y in points])
        p.setPen(QPen(colour, 2, Qt.PenStyle.SolidLine if shape else Qt.PenStyle.DashLine))
        fill = QColor(colour)
        fill.setAlpha(60 if shape else 30)
        p.setBrush(fill if closed else Qt.BrushStyle.NoBrush)
        p.drawPolygon(poly) if closed else p.drawPolyline(poly)


def _rect_corners(shape: RoiShape) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1) = shape.points
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


class RoiEditorDialog(QDialog):
    """Edit ``recipe``'s inspection mask over ``image_rgb``; Save writes it to the recipe."""

    saved = Signal(object)

    def __init__(self, recipe, image_rgb: np.ndarray, parent=None) -> None:
        super().__init__(parent)
        self.recipe = recipe
        self.setWindowTitle(f"Inspection mask – {recipe.name}")
        self.canvas = RoiCanvas(image_rgb, recipe.roi(), self)
        self.rect_tool = QRadioButton("Rectangle")
        self.poly_tool = QRadioButton("Polygon")
        self.include_button = QRadioButton("Include")
        self.exclude_button = QRadioButton("Exclude")
        self.rect_tool.setChecked(True)
        self.include_button.setChecked(True)
        tools, kinds = QButtonGroup(self), QButtonGroup(self)
        for b in (self.rect_tool, self.poly_tool):
            tools.addButton(b)
        for b in (self.include_button, self.exclude_button):
            kinds.addButton(b)
        self.rect_tool.toggled.connect(lambda on: setattr(self.canvas, "tool", "rect" if on else "polygon"))
        self.include_button.toggled.connect(lambda on: setattr(self.canvas, "include", on))
        self.shape_list = QListWidget()
        self.delete_button = QPushButton("Delete shape")
        self.clear_button = QPushButton("Clear all")
        self.save_button = QPushButton("Save")
        self.cancel_button = QPushButton("Cancel")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.delete_button.clicked.connect(lambda: self.canvas.remove(self.shape_list.currentRow()))
        self.clear_button.clicked.connect(self.canvas.clear)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        self.canvas.shapesChanged.connect(self._refresh)

        side = QVBoxLayout()
        for w in (QLabel("Draw"), self.rect_tool, self.poly_tool, QLabel("Region"), self.include_button):
            side.addWidget(w)
        side.addWidget(self.exclude_button)
        side.addWidget(self.shape_list, 1)
        side.addWidget(self.delete_button)
        side.addWidget(self.clear_button)
        hint = QLabel("Polygon: click the corners, double-click or Enter to close. Applies from the next training.")
        hint.setWordWrap(True)
        side.addWidget(hint)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        top = QHBoxLayout()
        top.addWidget(self.canvas, 1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)
        self.resize(900, 600)
        self._refresh()

    def _refresh(self) -> None:
        self.shape_list.clear()
        for i, s in enumerate(self.canvas.shapes, 1):
            self.shape_list.addItem(f"{i}. {'include' if s.include else 'exclude'} {s.kind}")
        mask = self.canvas.mask()
        self.status.setText(
            "No mask: the whole image is inspected."
            if mask.is_empty
            else f"{mask.coverage():.0%} of the image is inspected."
        )

    def save(self) -> bool:
        mask = self.canvas.mask()
        try:
            self.recipe.set_roi(mask)
        except RecipeError as exc:
            self.status.setText(str(exc))
            return False
        self.saved.emit(mask)
        self.accept()
        return True
