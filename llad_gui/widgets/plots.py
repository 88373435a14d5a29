"""The look shared by the small read-only plots on the Inspect page: white, no context menu, no pan or zoom,
so an operator's stray click cannot move the axes away from what the plot is meant to show."""

from __future__ import annotations

import pyqtgraph as pg


def static_plot() -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground("w")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    return plot
