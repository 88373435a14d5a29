"""Entry point of the frozen executable ``llad``: :func:`llad_gui.__main__.main`, which starts the workstation,
runs ``--selftest`` headless and forwards the CLI subcommands (``llad train ...``) to :func:`core.cli.main`.

It also lets the executable stand in for ``python -m core.<module> ...``: :mod:`core.bench` runs each measured
model in a child started as ``sys.executable -m core.bench``, and in the bundle ``sys.executable`` is ``llad``.
"""

from __future__ import annotations

import multiprocessing
import runpy
import sys


def main() -> int:
    multiprocessing.freeze_support()
    argv = sys.argv[1:]
    if getattr(sys, "frozen", False) and len(argv) >= 2 and argv[0] == "-m" and argv[1].startswith("core."):
        sys.argv = [sys.argv[0], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    from llad_gui.__main__ import main as gui_main

    return gui_main()


if __name__ == "__main__":
    sys.exit(main())
