"""The bodies of the ``charter`` subcommands (parsing lives in app/cli.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli import EXIT_BROKEN, EXIT_OK, emit, read_secret
from app.container import Services, open_services, resolve_store_url
from core.entities import AuditFilter, Principal, User
from core.errors import InvalidInput, KnownError
from core.permissions import Role


def _url(args: argparse.Namespace) -> str:
    return resolve_store_url(getattr(args, "db", None))


def _services(args: argparse.Namespace, *, create: bool = False) -> Services:
    return open_services(_url(args), create=create)


def _sign_in(args: argparse.Namespace, svc: Services) -> Principal:
    username = args.user or os.environ.get("CHARTER_USER")
    if not username:
        raise KnownError("Say who is acting: --user NAME (or set CHARTER_USER).")
    password = read_secret(args, f"Password for {username}: ")
    role = Role(args.act_as) if getattr(args, "act_as", None) else None
    return svc.auth.sign_in(username, password, role=role)


def _user_json(u: User) -> dict:
    return {"username": u.username, "display_name": u.display_name, "email": u.email,
            "roles": [r.value for r in u.roles], "status": u.status,
            "failed_sign_ins": u.failed_sign_ins, "created_at": u.created_at,
            "last_sign_in_at": u.last_sign_in_at}


def _signed(fn):  # noqa: ANN001, ANN202
    """Open the store, sign in, run, sign out of nothing (a CLI call is one transaction each)."""
    def wrapper(args: argparse.Namespace) -> int:
        svc = _services(args)
        try:
            return fn(args, svc, _sign_in(args, svc)) or EXIT_OK
        finally:
            svc.close()
    return wrapper


# -- store -----------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    svc = _services(args, create=True)
    try:
        from sqlalchemy import func, select

        from core.store.orm import SqlUser

        with svc.store.unit_of_work(None, write=False) as uow:
            has_users = uow.session.execute(select(func.count()).select_from(SqlUser)).scalar_one()
        if has_users:
            emit(args, {"store": svc.store.location, "created_admin": None},
                 f"The store at {svc.store.location} is ready (schema current; it already has "
                 "users).")
            return EXIT_OK
        if not args.admin:
            raise InvalidInput("A new store needs its first administrator: --admin NAME "
                               "--name 'Printed Name'.")
        name = args.name or args.admin
        password = read_secret(args, f"New password for {args.admin}: ", confirm=True)
        user = svc.users.create_first_admin(args.admin, name, password)
        emit(args, {"store": svc.store.location, "created_admin": user.username},
             f"Created the store at {svc.store.location} with administrator {user.username}.")
        return EXIT_OK
    finally:
        svc.close()


def cmd_db_status(args: argparse.Namespace) -> int:
    from core.store import migrate
    from core.store.engine import create_store_engine, safe_location

    engine = create_store_engine(_url(args))
    try:
        st = migrate.status(engine)
        data = {"store": safe_location(engine.url), "current": st.current, "head": st.head,
                "up_to_date": st.up_to_date, "new": st.is_new}
        state = ("empty (run charter init)" if st.is_new else
                 "up to date" if st.up_to_date else "needs an upgrade")
        emit(args, data, f"{data['store']}: schema {st.current or '-'}, this Charter needs "
             f"{st.head}: {state}.")
    finally:
        engine.dispose()
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from core.store.opening import open_store

    store = open_store(_url(args), create=True)
    try:
        from core.store import migrate

        st = migrate.status(store.engine)
        emit(args, {"store": store.location, "schema": st.current},
             f"{store.location} is at schema {st.current}.")
    finally:
        store.dispose()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from core import paths
    from core.demo import create_demo, demo_exists
    from core.security import Hasher

    url = getattr(args, "db", None) or paths.demo_store_url()
    if args.if_missing and demo_exists(url):
        emit(args, {"store": url, "created": False}, "The demo store exists; opening it.")
        return EXIT_OK
    if not getattr(args, "json", False):
        print("Building the DEMO store: training, importing and evaluating its models and "
              "writing their documentation (about a minute, once)…", file=sys.stderr, flush=True)
    store, accounts = create_demo(url, Hasher(), replace=args.reset)
    store.dispose()
    rows = [{"username": a.username, "role": a.role.value, "display_name": a.display_name,
             "password": a.password} for a in accounts]
    width = max(len(a.role.label) for a in accounts)
    lines = [f"Created the DEMO store at {url.removeprefix('sqlite:///')}",
             "Demo accounts (passwords are shown only now; `charter demo --reset` makes new ones):"]
    lines += [f"  {a.role.label:<{width}}  {a.username:<8} {a.password}" for a in accounts]
    emit(args, {"store": url, "created": True, "accounts": rows}, "\n".join(lines))
    return EXIT_OK


# -- users -----------------------------------------------------------------------------------
def _code_text(issued) -> str:  # noqa: ANN001
    return (f"One-time code for {issued.user.username}: {issued.code}\n"
            f"Give it to them privately; it expires in {issued.expires_hours} hours. They choose "
            "their own password at their first sign-in.")


@_signed
def cmd_user_add(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    issued = svc.users.add(me, args.username, args.name, args.roles, email=args.email)
    emit(args, {"user": _user_json(issued.user), "one_time_code": issued.code,
                "expires_hours": issued.expires_hours}, _code_text(issued))


@_signed
def cmd_user_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    users = svc.users.list(me)
    lines = [f"{'USER':<16} {'STATUS':<24} {'ROLES':<40} NAME"]
    lines += [f"{u.username:<16} {u.status:<24} {', '.join(r.value for r in u.roles):<40} "
              f"{u.display_name}" for u in users]
    emit(args, [_user_json(u) for u in users], "\n".join(lines))


def _account_switch(method: str, done: str, field: str, value: bool):  # noqa: ANN202
    """`user disable|enable|unlock`: one service call with a reason, one line of output."""
    @_signed
    def command(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
        getattr(svc.users, method)(me, args.username, reason=args.reason)
        emit(args, {"username": args.username, field: value}, f"{done} {args.username}.")
    return command


cmd_user_disable = _account_switch("disable", "Disabled", "disabled", True)
cmd_user_enable = _account_switch("enable", "Enabled", "disabled", False)
cmd_user_unlock = _account_switch("unlock", "Unlocked", "locked", False)


@_signed
def cmd_user_reset(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    issued = svc.users.reset_password(me, args.username, reason=args.reason)
    emit(args, {"username": issued.user.username, "one_time_code": issued.code,
                "expires_hours": issued.expires_hours}, _code_text(issued))


@_signed
def cmd_user_roles(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    if args.new_roles:
        if not args.reason:
            raise InvalidInput("Changing roles needs --reason.")
        svc.users.set_roles(me, args.username, args.new_roles, reason=args.reason)
    user = next((u for u in svc.users.list(me) if u.username == args.username.lower()), None)
    if user is None:
        raise KnownError(f"There is no user named {args.username!r}.")
    emit(args, {"username": user.username, "roles": [r.value for r in user.roles]},
         f"{user.username}: {', '.join(r.label for r in user.roles)}")


# -- audit -----------------------------------------------------------------------------------
def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.file:
        from core.services.audit_trail import verify_export

        report = verify_export(Path(args.file))
    else:
        svc = _services(args)
        try:
            report, _ = svc.audit.verify(_sign_in(args, svc))
        finally:
            svc.close()
    emit(args, {"intact": report.ok, "events": report.count, "last_hash": report.last_hash,
                "first_bad_seq": report.first_bad_seq, "problem": report.problem,
                "message": report.message}, report.message)
    return EXIT_OK if report.ok else EXIT_BROKEN


@_signed
def cmd_audit_export(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    count, _ = svc.audit.export(me, Path(args.output), args.format)
    emit(args, {"file": args.output, "format": args.format, "events": count},
         f"Exported {count:,} events to {args.output}.")


@_signed
def cmd_audit_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    otype, _, oid = (args.object or "").partition(":")
    flt = AuditFilter(actor=args.actor, action=args.action, object_type=otype or None,
                      object_id=oid or None)
    page = svc.audit.page(me, flt, limit=args.limit)
    lines = [f"{e.seq:>8} {e.ts:%Y-%m-%d %H:%M:%S}Z {e.actor or '-':<12} {e.action:<24} "
             f"{e.object_type}:{e.object_id} {e.new_values or ''}" for e in page.items]
    emit(args, [{k: getattr(e, k) for k in e.__dataclass_fields__} for e in page.items],
         "\n".join(lines) or "No events match.")


# -- settings --------------------------------------------------------------------------------
@_signed
def cmd_settings_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    values = svc.settings.list(me)
    emit(args, [{"key": v.spec.key, "value": v.value, "default": v.spec.default,
                 "label": v.spec.label} for v in values],
         "\n".join(f"{v.spec.key:<30} {v.value!s:<8} {v.spec.label}" for v in values))


@_signed
def cmd_settings_set(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    svc.settings.set(me, args.key, args.value, reason=args.reason)
    emit(args, {"key": args.key, "value": args.value}, f"{args.key} = {args.value}")


