"""`charter server enrol|check|install-runtime|list`, `charter policy draft|approve|reject|list`,
`charter deploy`, `charter rollback`, `charter canary advance|abort`, `charter releases`.

A deployment runs in the foreground, printing each step as it ends; the exit status is 0 only
when the release ends serving (or, for a rollback, the earlier release serves again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli import emit, read_secret
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal
from core.entities_deploy import Preflight, Release, Server
from core.errors import InvalidInput

EXIT_FAILED = 1


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    server = sub.add_parser("server", help="servers the agent is deployed to").add_subparsers(
        dest="server_command", metavar="ACTION", required=True)
    sp = server.add_parser("enrol", parents=[signed], help="enrol a server (IT): its host key "
                           "is shown for you to confirm, then pinned")
    sp.set_defaults(func=cmd_enrol)
    sp.add_argument("name")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, default=22)
    sp.add_argument("--ssh-user", required=True, help="the login on the server")
    sp.add_argument("--key", help="private key file (default: use the SSH agent)")
    sp.add_argument("--root", default="/opt/charter", help="deployment folder on the server")
    sp.add_argument("--agent-port", type=int, default=8080)
    sp.add_argument("--description", default="")
    sp.add_argument("--fingerprint", help="the host key fingerprint you confirmed out of band "
                    "(SHA256:...); without it the key is shown and nothing is enrolled")
    sp.add_argument("--passphrase-stdin", action="store_true",
                    help="read the key's passphrase from the next line of standard input "
                    "(kept in the OS keyring)")
    sp = server.add_parser("check", parents=[signed], help="preflight a server")
    sp.set_defaults(func=cmd_check)
    sp.add_argument("name")
    sp = server.add_parser("install-runtime", parents=[signed],
                           help="install the agent runtime from the offline kit")
    sp.set_defaults(func=cmd_install)
    sp.add_argument("name")
    sp.add_argument("--kit", type=Path, help="a kit built with charter server build-kit")
    sp.add_argument("--wheelhouse", type=Path, help="build the kit from these wheels only")
    sp = server.add_parser("build-kit", help="build the offline agent kit (on a machine that "
                           "reaches PyPI, or from --wheelhouse) to carry to an air-gapped site")
    sp.set_defaults(func=cmd_build_kit)
    sp.add_argument("--python", default="3.11", help="the server's Python (major.minor)")
    sp.add_argument("--machine", default="x86_64", help="x86_64 or aarch64")
    sp.add_argument("--glibc", help="the server's glibc (ldd --version), e.g. 2.36; default: "
                    "this machine's when the machine type matches, else 2.28")
    sp.add_argument("--wheelhouse", type=Path, help="build from these wheels only")
    sp.add_argument("--output", "-o", type=Path, default=Path("."), help="folder for the kit")
    sp.add_argument("--json", action="store_true")
    sp = server.add_parser("list", parents=[signed], help="enrolled servers and what they serve")
    sp.set_defaults(func=cmd_servers)

    policy = sub.add_parser("policy", help="routing policies").add_subparsers(
        dest="policy_command", metavar="ACTION", required=True)
    sp = policy.add_parser("draft", parents=[signed], help="record a policy for approval")
    sp.set_defaults(func=cmd_policy_draft)
    sp.add_argument("file", type=Path, help="a charter.routing/1 JSON document")
    sp.add_argument("--canary-rule", help="the split rule the canary moves")
    sp.add_argument("--stable")
    sp.add_argument("--candidate")
    sp.add_argument("--steps", default="5,25,50,100", help="percent to the candidate per step")
    for name, approve in (("approve", True), ("reject", False)):
        sp = policy.add_parser(name, parents=[signed], help=f"{name} a draft (managers; the "
                               "password is asked again)")
        sp.set_defaults(func=cmd_policy_decide, approve=approve)
        sp.add_argument("policy", metavar="POLICY_ID@VERSION")
        sp.add_argument("--reason", required=True)
    sp = policy.add_parser("list", parents=[signed], help="routing policies and their state")
    sp.set_defaults(func=cmd_policy_list)

    sp = sub.add_parser("deploy", parents=[signed], help="deploy an approved version "
                        "(MODEL@N, as in charter list) or policy (POLICY_ID@VERSION with --policy)")
    sp.set_defaults(func=cmd_deploy)
    sp.add_argument("what", metavar="VERSION|POLICY")
    sp.add_argument("--server", required=True)
    sp.add_argument("--policy", action="store_true", help="WHAT is a routing policy")
    sp.add_argument("--reason", default="")
    sp = sub.add_parser("rollback", parents=[signed], help="serve an earlier release again")
    sp.set_defaults(func=cmd_rollback)
    sp.add_argument("--server", required=True)
    sp.add_argument("--to", metavar="RELEASE")
    sp.add_argument("--reason", default="")
    canary = sub.add_parser("canary", help="move a canary's weights").add_subparsers(
        dest="canary_command", metavar="ACTION", required=True)
    for name in ("advance", "abort"):
        sp = canary.add_parser(name, parents=[signed], help=f"{name} the canary on a server")
        sp.set_defaults(func=cmd_canary, action=name)
        sp.add_argument("--server", required=True)
        sp.add_argument("--decision", required=True, help="why; recorded with the step")
    sp = sub.add_parser("releases", parents=[signed], help="releases and their steps")
    sp.set_defaults(func=cmd_releases)
    sp.add_argument("--server")
    sp.add_argument("--limit", type=int, default=20)


def _server_json(s: Server) -> dict[str, Any]:
    return {"name": s.name, "address": s.address, "fingerprint": s.fingerprint, "root": s.root,
            "agent_port": s.agent_port, "serving": s.serving,
            "serving_since": s.serving_since.isoformat() if s.serving_since else None,
            "versions": list(s.serving_versions), "last_check": s.last_check}


def _preflight_text(p: Preflight) -> str:
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    return "\n".join([f"{p.server}: {'ready' if p.ok else 'NOT ready'}"]
                     + [f"  {marks[c.ok]} {c.name:<10} {c.detail}" for c in p.checks])


def _release_text(r: Release) -> str:
    head = (f"{r.release_id} on {r.server}: {r.state.upper()} ({r.kind}; "
            f"{', '.join(r.versions)}" + (f"; policy {r.policy}" if r.policy else "")
            + (f"; canary {r.canary_step}%" if r.canary_step is not None else "") + ")")
    lines = [head] + [f"  {s.step:<10} {s.status:<6} {s.detail}"
                      + (f" ({s.seconds:.1f} s)" if s.seconds is not None else "")
                      for s in r.steps]
    if r.error:
        lines.append(f"  error: {r.error}")
    return "\n".join(lines)


@_signed
def cmd_enrol(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    if not args.fingerprint:
        key = svc.servers.scan(me, args.host, args.port)
        emit(args, {"host": args.host, "port": args.port, "key_type": key.key_type,
                    "fingerprint": key.fingerprint, "enrolled": False},
             f"{args.host}:{args.port} offers a {key.key_type} host key with fingerprint\n"
             f"  {key.fingerprint}\nConfirm it with the server's administrator (ssh-keygen -lf "
             "on the server's host key), then enrol with --fingerprint "
             f"{key.fingerprint}. Nothing was enrolled.")
        return 0
    passphrase = None
    if args.passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
        if not passphrase:
            raise InvalidInput("--passphrase-stdin was given but no passphrase was read.")
    server, _ = svc.servers.enrol(
        me, name=args.name, host=args.host, port=args.port, username=args.ssh_user,
        key_path=args.key, use_agent=not args.key, fingerprint=args.fingerprint,
        root=args.root, agent_port=args.agent_port, passphrase=passphrase,
        description=args.description)
    emit(args, _server_json(server), f"Enrolled {server.name} ({server.address}); host key "
         f"{server.fingerprint} is pinned. Next: charter server check {server.name}.")
    return 0


def cmd_build_kit(args: argparse.Namespace) -> int:
    from core.deploy.kit import ServerPlatform, build_kit, local_platform

    def say(text: str) -> None:
        if not args.json:
            print(f"  {text}", flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    here = local_platform()
    glibc = args.glibc or (here.glibc if here.machine == args.machine else None) or "2.28"
    kit = build_kit(args.output, ServerPlatform(args.python, args.machine, glibc),
                    wheelhouse=args.wheelhouse, progress=say)
    emit(args, {"kit": str(kit.path), "sha256": kit.sha256, "agent": kit.agent_version,
                "python": args.python, "machine": args.machine},
         f"Built {kit.path} ({kit.path.stat().st_size / 2**20:,.1f} MiB, SHA-256 "
         f"{kit.sha256}). Install it with: charter server install-runtime NAME --kit "
         f"{kit.path}")
    return 0


@_signed
def cmd_check(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    report, _ = svc.servers.check(me, args.name)
    emit(args, report.to_json(), _preflight_text(report))
    return 0 if report.ok else EXIT_FAILED


@_signed
def cmd_install(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    def say(text: str) -> None:
        if not args.json:
            print(f"  {text}", flush=True)
    report, _ = svc.servers.install_runtime(me, args.name, kit=args.kit,
                                            wheelhouse=args.wheelhouse, progress=say)
    emit(args, report.to_json(), _preflight_text(report))
    return 0 if report.ok else EXIT_FAILED


@_signed
def cmd_servers(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    rows = svc.servers.servers(me)
    lines = [f"{s.name:<16} {s.address:<32} "
             + (f"serving {s.serving} ({', '.join(s.serving_versions)})" if s.serving
                else "nothing deployed") for s in rows] or ["No server is enrolled."]
    emit(args, [_server_json(s) for s in rows], "\n".join(lines))
    return 0


def _ref(text: str, what: str) -> tuple[str, int]:
    name, sep, number = text.rpartition("@")
    if not sep or not name or not number.isdigit():
        raise InvalidInput(f"{what} is NAME@NUMBER, e.g. 'Retail PD@3'; got {text!r}.")
    return name, int(number)


@_signed
def cmd_policy_draft(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"Cannot read {args.file}: {err}.") from None
    canary = None
    if args.canary_rule:
        try:
            steps = [int(p) for p in args.steps.split(",")]
        except ValueError:
            raise InvalidInput(f"--steps are whole percentages, e.g. 5,25,50,100; got "
                               f"{args.steps!r}.") from None
        canary = {"rule": args.canary_rule, "stable": args.stable,
                  "candidate": args.candidate, "steps": steps}
    record, _ = svc.policies.draft(me, text, canary=canary)
    emit(args, _policy_json(record), f"Drafted {record.label} (SHA-256 {record.sha256}); a "
         f"manager approves it with: charter policy approve {record.policy_id}@"
         f"{record.version} --reason ...")
    return 0


def _policy_json(p: Any) -> dict[str, Any]:
    return {"policy": p.policy_id, "version": p.version, "state": p.state, "sha256": p.sha256,
            "canary": p.canary, "created_by": p.created_by, "decided_by": p.decided_by,
            "reason": p.decision_reason, "document": json.loads(p.document)}


@_signed
def cmd_policy_decide(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    policy_id, version = _ref(args.policy, "POLICY")
    password = read_secret(args, f"Password again, to decide as {me.username}: ")
    record, _ = svc.policies.decide(me, policy_id, version, approve=args.approve,
                                    reason=args.reason, password=password)
    emit(args, _policy_json(record), f"{record.label} is {record.state}.")
    return 0


@_signed
def cmd_policy_list(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    rows = svc.policies.policies(me)
    lines = [f"{p.label:<28} {p.state:<9} {p.sha256[:12]}  by {p.created_by}"
             + (f"; canary {p.canary['steps']}" if p.canary else "") for p in rows] or [
        "No routing policy is recorded."]
    emit(args, [_policy_json(p) for p in rows], "\n".join(lines))
    return 0


def _run(args, svc: Services, me: Principal, release: Release) -> int:  # noqa: ANN001
    from core.services.deployments import Progress

    def step(name: str, status: str, detail: str) -> None:
        if not args.json:
            print(f"  {name:<10} {status:<6} {detail}", flush=True)
    if not args.json:
        print(f"{release.release_id} on {release.server}: {release.kind} of "
              f"{', '.join(release.versions)}", flush=True)
    done, _ = svc.deployments.run(me, release.release_id, Progress(step=step))
    emit(args, done.to_json(), f"{done.release_id}: {done.state.upper()}"
         + (f": {done.error}" if done.error else ""))
    return 0 if done.state in ("serving", "done") else EXIT_FAILED


@_signed
def cmd_deploy(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    name, number = _ref(args.what, "POLICY" if args.policy else "VERSION")
    if args.policy:
        release, _ = svc.deployments.request_policy(me, name, number, args.server,
                                                    reason=args.reason)
    else:
        release, _ = svc.deployments.request_version(me, name, number, args.server,
                                                     reason=args.reason)
    return _run(args, svc, me, release)


@_signed
def cmd_rollback(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    release, _ = svc.deployments.request_rollback(me, args.server, to=args.to,
                                                  reason=args.reason)
    return _run(args, svc, me, release)


@_signed
def cmd_canary(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    release, _ = svc.deployments.request_canary(me, args.server, args.action,
                                                reason=args.decision)
    return _run(args, svc, me, release)


@_signed
def cmd_releases(args, svc: Services, me: Principal) -> int:  # noqa: ANN001
    rows = svc.deployments.releases(me, args.server, limit=args.limit)
    emit(args, [r.to_json() for r in rows],
         "\n".join(_release_text(r) for r in rows) or "No release yet.")
    return 0
