"""LLAD Inspector desktop application (PySide6). It only calls :mod:`core`; see ``app.py`` for the wiring."""
