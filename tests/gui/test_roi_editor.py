"""The inspection-mask editor: shapes drawn with the mouse end up, as drawn, in the recipe's mask."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from core.recipes import RecipeStore
from core.roi import RoiMask, rectangle
from llad_gui.widgets.roi_editor import RoiEditorDialog


def _at(canvas, x: float, y: float):
    return canvas.to_widget((x, y)).toPoint()


def _editor(qtbot, tmp_path, mask: RoiMask | None = None):
    recipe = RecipeStore(tmp_path / "recipes").create("part")
    if mask is not None:
        recipe.set_roi(mask)
    image = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    dialog = RoiEditorDialog(recipe, image)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return recipe, dialog


def test_draw_rectangle_and_exclude_polygon_then_save(qtbot, tmp_path):
    recipe, dialog = _editor(qtbot, tmp_path)
    canvas = dialog.canvas
    # an include rectangle, dragged from (0.1, 0.1) to (0.9, 0.9)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 0.1, 0.1))
    qtbot.mouseMove(canvas, _at(canvas, 0.5, 0.5))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 0.9, 0.9))
    assert len(canvas.shapes) == 1 and canvas.shapes[0].kind == "rect" and canvas.shapes[0].include
    # a click without a drag adds nothing
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 0.3, 0.3))
    assert len(canvas.shapes) == 1
    # an exclude triangle, clicked corner by corner and closed with a double-click
    dialog.poly_tool.click()
    dialog.exclude_button.click()
    for x, y in ((0.3, 0.3), (0.7, 0.3), (0.5, 0.7)):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, x, y))
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 0.5, 0.7))
    assert len(canvas.shapes) == 2
    triangle = canvas.shapes[1]
    assert triangle.kind == "polygon" and not triangle.include and len(triangle.points) == 3
    assert dialog.shape_list.count() == 2 and "exclude polygon" in dialog.shape_list.item(1).text()

    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save_button.click()
    m = recipe.roi().rasterize(100, 100)
    assert m[15, 15] and m[85, 85] and m[80, 50]  # inside the rectangle, outside the triangle
    assert not m[5, 5] and not m[95, 95]  # outside the rectangle
    assert not m[40, 50]  # inside the excluded triangle
    assert 0.53 < m.mean() < 0.6  # 0.64 of the image less the 0.08 triangle, edges counted inside
    assert dialog.result() == dialog.DialogCode.Accepted


def test_delete_clear_and_cancel(qtbot, tmp_path):
    saved = RoiMask((rectangle(0.0, 0.0, 0.5, 1.0), rectangle(0.6, 0.0, 0.9, 0.5)))
    recipe, dialog = _editor(qtbot, tmp_path, saved)
    canvas = dialog.canvas
    assert canvas.mask() == saved and dialog.shape_list.count() == 2
    dialog.shape_list.setCurrentRow(0)
    dialog.delete_button.click()
    assert canvas.mask() == RoiMask((saved.shapes[1],))
    dialog.cancel_button.click()
    assert recipe.roi() == saved  # Cancel saves nothing
    recipe, dialog = _editor(qtbot, tmp_path / "again", saved)
    dialog.clear_button.click()
    assert dialog.canvas.mask().is_empty and "whole image" in dialog.status.text()
    dialog.save_button.click()
    assert recipe.roi().is_empty


def test_a_mask_with_nothing_left_is_refused(qtbot, tmp_path):
    recipe, dialog = _editor(qtbot, tmp_path)
    dialog.exclude_button.click()
    canvas = dialog.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 0.0, 0.0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, 1.0, 1.0))
    assert not dialog.save()
    assert "nothing would be inspected" in dialog.status.text() and recipe.roi().is_empty
