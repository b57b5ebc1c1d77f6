"""Headless commands over the same services the console uses (for IT scripts and cron).

Exit codes: 0 done; 1 refused or failed with a message saying why; 2 usage error;
3 ``audit verify`` found the trail broken.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from core.errors import CharterError, KnownError
from core.permissions import Role

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3
ROLE_NAMES = [r.value for r in Role]


class _Parser(argparse.ArgumentParser):
    """The top-level parser: `charter review export|open|respond|import` goes to the
    review-package commands, while `charter review MODEL@VERSION` stays the signature step."""

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN202
        from app.cli_review import route

        return super().parse_known_args(route(list(sys.argv[1:] if args is None else args)),
                                        namespace)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="charter",
        description="Charter: governance console for machine-learning models. With no command "
        "it opens the desktop console.",
        epilog="The store is chosen by --db, then CHARTER_DB_URL, then the workstation settings, "
        "then a SQLite file in your user data folder.",
    )
    p.add_argument("--db", metavar="URL", help="store URL (sqlite:///PATH or "
                   "postgresql+psycopg://user@host/db)")
    p.add_argument("--demo", action="store_true", help="open the demo store made by `charter demo`")
    p.set_defaults(command=None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="store URL")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    signed = argparse.ArgumentParser(add_help=False, parents=[common])
    signed.add_argument("--user", metavar="NAME", help="who acts (default: $CHARTER_USER)")
    signed.add_argument("--as-role", dest="act_as", choices=ROLE_NAMES, metavar="ROLE",
                        help="act in this role (default: the first role the user holds)")
    signed.add_argument("--password-stdin", action="store_true",
                        help="read your password from the first line of standard input")

    from app import cli_commands as c

    def add(parent: Any, name: str, fn: Callable, helptext: str, parents: list) -> Any:
        sp = parent.add_parser(name, help=helptext, description=helptext, parents=parents)
        sp.set_defaults(func=fn)
        return sp

    sp = add(sub, "init", c.cmd_init, "create or upgrade a store and its first administrator",
             [common])
    sp.add_argument("--admin", metavar="NAME", help="first administrator's user name")
    sp.add_argument("--name", metavar="TEXT", help="first administrator's printed name")
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the administrator's new password from standard input")

    db = sub.add_parser("db", help="store schema status and upgrade").add_subparsers(
        dest="db_command", metavar="ACTION", required=True)
    add(db, "status", c.cmd_db_status, "show the store's schema revision", [common])
    add(db, "upgrade", c.cmd_db_upgrade, "upgrade the store's schema (back up PostgreSQL first)",
        [common])

    sp = add(sub, "demo", c.cmd_demo, "create the separate DEMO store with one user per role",
             [common])
    sp.add_argument("--reset", action="store_true", help="replace an existing demo store")
    sp.add_argument("--if-missing", action="store_true", help="do nothing if it exists")

    users = sub.add_parser("user", help="manage users (administrators)").add_subparsers(
        dest="user_command", metavar="ACTION", required=True)
    sp = add(users, "add", c.cmd_user_add, "add a user; prints a one-time code for their first "
             "sign-in", [signed])
    sp.add_argument("username")
    sp.add_argument("--name", required=True, metavar="TEXT", help="printed name")
    sp.add_argument("--role", dest="roles", action="append", required=True, choices=ROLE_NAMES,
                    metavar="ROLE", help="a role to grant (repeat for several): "
                    + ", ".join(ROLE_NAMES))
    sp.add_argument("--email", metavar="ADDRESS")
    add(users, "list", c.cmd_user_list, "list users", [signed])
    for name, fn, text in (
        ("disable", c.cmd_user_disable, "disable a user (users are never deleted)"),
        ("enable", c.cmd_user_enable, "enable a disabled user"),
        ("unlock", c.cmd_user_unlock, "unlock an account locked by failed sign-ins"),
        ("reset-password", c.cmd_user_reset, "void a password and issue a one-time code"),
    ):
        sp = add(users, name, fn, text, [signed])
        sp.add_argument("username")
        sp.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    sp = add(users, "roles", c.cmd_user_roles, "show a user's roles, or replace them with --set",
             [signed])
    sp.add_argument("username")
    sp.add_argument("--set", dest="new_roles", action="append", choices=ROLE_NAMES,
                    metavar="ROLE", help="a role the user should hold (repeat for several)")
    sp.add_argument("--reason", help="why (required with --set)")

    audit = sub.add_parser("audit", help="read, verify and export the audit trail").add_subparsers(
        dest="audit_command", metavar="ACTION", required=True)
    sp = add(audit, "verify", c.cmd_audit_verify, "verify the hash chain of the whole trail, or "
             "of an exported file", [signed])
    sp.add_argument("--file", metavar="EXPORT", help="verify an exported .json or .csv instead; "
                    "needs no store and no sign-in")
    sp = add(audit, "export", c.cmd_audit_export, "export the trail with its hashes", [signed])
    fmt = sp.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv")
    fmt.add_argument("--json-file", "--jsonl", dest="format", action="store_const", const="json",
                     help="JSON (the format a verifier outside Charter reads)")
    sp.add_argument("--output", "-o", required=True, metavar="FILE")
    sp = add(audit, "list", c.cmd_audit_list, "show the newest events", [signed])
    sp.add_argument("--limit", type=int, default=50)
    sp.add_argument("--actor")
    sp.add_argument("--action", help="an action, or a prefix ending in '.' such as user.")
    sp.add_argument("--object", metavar="TYPE[:ID]")

    from app import cli_registry

    cli_registry.add_parsers(sub, signed)
    from app import cli_validation

    cli_validation.add_parsers(sub, signed)
    from app import cli_workflow

    cli_workflow.add_parsers(sub, signed)
    from app import cli_calendar

    cli_calendar.add_parsers(sub, signed)
    from app import cli_review

    cli_review.add_parsers(sub, signed)
    from app import cli_deploy

    cli_deploy.add_parsers(sub, signed)

    settings = sub.add_parser("settings", help="store-wide settings").add_subparsers(
        dest="settings_command", metavar="ACTION", required=True)
    add(settings, "list", c.cmd_settings_list, "list store settings", [signed])
    sp = add(settings, "set", c.cmd_settings_set, "change a store setting (administrators)",
             [signed])
    sp.add_argument("key")
    sp.add_argument("value")
    sp.add_argument("--reason", required=True)
    return p


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print a result as JSON with --json, else as text for people."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        print(text)


def read_secret(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        if not line:
            raise KnownError("--password-stdin was given but standard input is empty.")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise KnownError("No terminal to ask for the password.",
                         hint="Pipe it in with --password-stdin.")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat it: ") != first:
        raise KnownError("The two passwords differ; nothing was changed.")
    return first


def run_command(args: argparse.Namespace) -> int:
    try:
        return args.func(args) or EXIT_OK
    except KnownError as err:
        if getattr(args, "json", False):
            print(json.dumps({"error": err.code, "message": err.message, "hint": err.hint}))
        print(f"charter: {err.message}", file=sys.stderr)
        if err.hint:
            print(err.hint, file=sys.stderr)
        return EXIT_FAILED
    except CharterError as err:  # a CharterError that is not a KnownError is still ours
        print(f"charter: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("charter: interrupted; nothing further was changed.", file=sys.stderr)
        return 130
