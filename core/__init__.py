"""LLAD core: low-light anomaly detection model, data, training, inference and storage.

Nothing in this package imports Qt; the GUI in ``llad_gui`` is one client among the CLI, tests and notebooks.
"""

__version__ = "0.1.0"
