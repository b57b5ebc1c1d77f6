"""The ``charter`` console script: no command opens the desktop console, commands run headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from app.cli import build_parser, run_command

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        from app.container import resolve_store_url
        from app.gui import run_gui

        return run_gui(resolve_store_url(args.db, demo=args.demo), demo=args.demo)
    try:
        return run_command(args)
    except BrokenPipeError:  # output piped into `head` and friends: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
