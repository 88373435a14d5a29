"""``llad-gui``: start the inspection workstation; also the frozen exe's entry point, so it forwards the CLI
subcommands (``llad-gui train ...``) to :func:`core.cli.main` and runs ``--selftest`` headless."""

from __future__ import annotations

import argparse
import sys

CLI_COMMANDS = ("train", "infer", "eval", "bench", "categories", "log", "selftest")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llad-gui", description="LLAD Inspector workstation.")
    p.add_argument("--home", metavar="DIR", help="data folder (recipes, log, images); default $LLAD_HOME or per-user")
    p.add_argument("--category", help="category to select at start")
    p.add_argument("--source", metavar="PATH/INDEX", help="folder, image, video file, stream URL or camera number")
    p.add_argument("--selftest", action="store_true", help="run the headless self-test, print JSON and exit")
    p.add_argument(
        "--quit-after-start",
        action="store_true",
        help="print the seconds from process start to the first shown window, then quit (start-up measurement)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        from core.cli import main as cli_main

        return cli_main(argv)
    args = build_parser().parse_args(argv)
    if args.home:
        import os

        os.environ["LLAD_HOME"] = args.home
    if args.selftest:
        from core.cli import main as cli_main

        return cli_main(["selftest"])  # its JSON line, and an exit code that says whether it passed
    from llad_gui.xcb_check import xcb_problem

    problem = xcb_problem()  # before any Qt library loads: Qt's own message would only say the plugin failed
    if problem:
        print(problem, file=sys.stderr)
        return 3
    from llad_gui.app import run

    return run(args.home, args.category, args.source, quit_after_start=args.quit_after_start)


if __name__ == "__main__":
    sys.exit(main())
