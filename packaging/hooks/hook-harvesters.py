"""PyInstaller hook for ``harvesters`` (pure Python over ``genicam``); pyinstaller-hooks-contrib has none.

Its private modules are imported by name, so all of them are taken; its own test package is not.
"""

from PyInstaller.utils.hooks import collect_submodules

hiddenimports = collect_submodules("harvesters", filter=lambda name: not name.startswith("harvesters.test"))
