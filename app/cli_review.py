"""`charter review export|open|respond|import`: offline review packages and responses.

``charter review MODEL@VERSION --reason ...`` stays the compliance signature (cli_workflow);
:func:`route` sends ``review export|open|respond|import`` to the ``review-package`` commands.
``open`` and ``respond`` need no store and no sign-in: they run on the reviewer's workstation;
``open --window`` shows the package in the read-only review window (app.gui.run_review_window).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import emit, read_secret
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal

ACTIONS = ("export", "open", "respond", "import")
COMMAND = "review-package"


def route(argv: list[str]) -> list[str]:
    """``review <action> ...`` as ``review-package <action> ...`` when the command is review.

    Only the command word itself is looked at (the first word that is not a global option), so
    a model named like an action, written ``export@1``, still means the signature step."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--db":
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        if word == "review" and i + 1 < len(argv) and argv[i + 1] in ACTIONS:
            return [*argv[:i], COMMAND, *argv[i + 1:]]
        return argv
    return argv


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    text = ("offline review packages (also written `charter review export|open|respond|"
            "import`)")
    review = sub.add_parser(COMMAND, help=text, description=text).add_subparsers(
        dest="review_command", metavar="ACTION", required=True)
    plain = argparse.ArgumentParser(add_help=False)
    plain.add_argument("--json", action="store_true", help="print the result as JSON")

    sp = review.add_parser("export", parents=[signed], help="write a version's review package "
                           "(compliance officers, report exporters)")
    sp.set_defaults(func=cmd_export)
    sp.add_argument("version", metavar="MODEL@VERSION")
    sp.add_argument("--output", "-o", required=True, metavar="FILE.charter-review")

    sp = review.add_parser("open", parents=[plain], help="verify a review package and show it; "
                           "needs no store and no sign-in")
    sp.set_defaults(func=cmd_open)
    sp.add_argument("package", metavar="PACKAGE")
    sp.add_argument("--extract-pdf", metavar="FILE", help="also write the documentation PDF")
    sp.add_argument("--window", action="store_true", help="show it in a read-only window (the "
                    "console's screens; needs a display)")

    sp = review.add_parser("respond", parents=[plain], help="write a response file with your "
                           "comments (and a signature request) offline")
    sp.set_defaults(func=cmd_respond)
    sp.add_argument("package", metavar="PACKAGE")
    sp.add_argument("--user", required=True, metavar="NAME", help="your user name in the store")
    sp.add_argument("--comment", action="append", default=[], metavar="TEXT",
                    help="a review comment (repeat for several)")
    sp.add_argument("--sign", action="store_true", help="ask for your compliance signature "
                    "(made when the store imports the response, with your password)")
    sp.add_argument("--reason", metavar="TEXT", help="the signature's reason (with --sign)")
    sp.add_argument("--output", "-o", required=True, metavar="RESPONSE.json")

    sp = review.add_parser("import", parents=[signed], help="import a response file: its "
                           "comments, and the signature it asks for (password asked again)")
    sp.set_defaults(func=cmd_import)
    sp.add_argument("response", metavar="RESPONSE.json")


@_signed
def cmd_export(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    digest, _ = svc.review.export(me, model, number, Path(args.output))
    emit(args, {"model": model, "version": number, "file": args.output,
                "manifest_sha256": digest},
         f"Wrote the review package of {model} version {number} to {args.output}.\n"
         f"Manifest SHA-256: {digest}\n"
         "(recorded in the audit trail; a response is accepted only for this package)")


def cmd_open(args: argparse.Namespace) -> int:
    from core.errors import InvalidInput
    from core.files import write_atomically
    from core.workflow.review_package import open_package

    if args.window:
        if args.extract_pdf or args.json:
            raise InvalidInput("--window shows the package; it does not go with --extract-pdf "
                               "or --json (the window opens the PDF itself).")
        from app.gui import run_review_window

        return run_review_window(args.package)
    package = open_package(Path(args.package))
    if args.extract_pdf:
        write_atomically(Path(args.extract_pdf), package.pdf)
    s = package.summary()
    gates = s["gates"]
    lines = [f"{s['model']} version {s['version']}: {s['state']}",
             f"Exported {s['created_at']} by {s['created_by']} from "
             f"{(s['store'] or {}).get('location') or 'an unnamed store'}",
             f"Artifact SHA-256 {s['artifact_sha256']}",
             f"Manifest SHA-256 {s['manifest_sha256']}",
             f"Gates: {gates['status'] or 'no evaluation'}"]
    lines += [f"  {'pass' if r['passed'] else 'FAIL' if r['passed'] is False else '  - '} "
              f"{r['label']} {r['op']} {r['threshold']} (value {r['value']})"
              for r in gates["results"]]
    lines.append(f"Findings: {len(s['findings'])}")
    lines += [f"  #{f['id']} {f['severity']} {f['status']}: {f['title']}" for f in s["findings"]]
    lines.append(f"Signatures: {len(s['signatures'])}")
    lines += [f"  {g['signed_at']} {g['meaning']} by {g['printed_name']} ({g['signer']}): "
              + ("valid" if g["valid"] else f"NOT VALID ({g['invalid_reason']})")
              for g in s["signatures"]]
    lines.append(f"Audit events: {s['audit_events']}")
    if args.extract_pdf:
        lines.append(f"Documentation written to {args.extract_pdf}")
    lines.append(f"All {s['hashes_verified']} hashes verified.")
    emit(args, s, "\n".join(lines))
    return 0


def cmd_respond(args: argparse.Namespace) -> int:
    from core.errors import InvalidInput
    from core.timeutil import to_iso, utcnow
    from core.workflow.review_package import make_response, open_package, write_response

    if args.reason and not args.sign:
        raise InvalidInput("--reason goes with --sign (it is the signature's reason).")
    if args.sign and not args.reason:
        raise InvalidInput("--sign needs --reason TEXT (recorded with the signature).")
    package = open_package(Path(args.package))
    response = make_response(package, args.user, args.comment,
                             sign_reason=args.reason if args.sign else None,
                             created_at=to_iso(utcnow()))
    write_response(response, Path(args.output))
    emit(args, response,
         f"Wrote the response to {args.output}: {len(response['comments'])} comment(s)"
         + (", and a request for your compliance signature (your password is asked when the "
            "store imports it)" if args.sign else "") + ".")
    return 0


@_signed
def cmd_import(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    password = read_secret(args, f"Password again, to confirm as {me.username} (a requested "
                                 "signature is made with it): ")
    summary, _ = svc.review.import_response(me, Path(args.response), password)
    sig = summary["signature"]
    emit(args, summary,
         f"Imported {summary['comments']} comment(s) on {summary['model']} version "
         f"{summary['version']} from {summary['reviewer']}."
         + (f" Signed ({sig['meaning']}) at {sig['signed_at']}." if sig else ""))
