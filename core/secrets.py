"""Secrets in the OS keyring, and nowhere else.

Charter keeps secrets (SSH key passphrases now; database and AWS credentials later) only in the
operating system's keyring: the Secret Service (GNOME Keyring, KWallet) on Linux, the Keychain
on macOS, the Credential Manager on Windows. Never in the store, a config file or a log.

Every secret is an entry of the keyring service :data:`SERVICE` whose user name is
:func:`secret_key` ``(kind, name)``, e.g. ``"ssh-passphrase:prod-scoring-01"``.

The ``keyring`` library picks the backend (or ``PYTHON_KEYRING_BACKEND`` / ``keyringrc.cfg``
name it). A backend that is not an OS keyring is refused with :class:`SecretsUnavailable`
rather than used: keyring's ``fail`` and ``null`` backends, anything from ``keyrings.alt``
(plaintext or "encrypted" files), any other file-based backend, any backend with priority <= 0,
and a ``chainer`` with no real backend behind it. A ``chainer`` is unwrapped to its best real
backend, so a failure there never falls through to a weaker one.

Nothing here writes audit events; callers that change which secret a server uses record that.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from core.errors import KnownError

SERVICE = "charter"

log = logging.getLogger(__name__)

_KIND = re.compile(r"[a-z][a-z0-9-]*\Z")
# What a kind of secret is called in messages; a kind not listed is just "secrets".
_KIND_NOUNS = {"ssh-passphrase": "SSH key passphrases"}
# Packages of backends that keep secrets in files (plaintext or "encrypted"), not the OS keyring.
_FILE_BACKENDS = ("keyrings.alt", "keyrings.cryptfile")


class SecretsUnavailable(KnownError):
    """The OS keyring cannot be used: none is running, it is locked, it failed, or the
    configured backend is not an OS keyring. ``.message`` says what is wrong and what to do; it
    never contains a secret."""

    code = "secrets_unavailable"


def secret_key(kind: str, name: str) -> str:
    """The keyring user name of secret ``name`` of ``kind``: ``"<kind>:<name>"``.

    ``kind`` is lower-case letters, digits and dashes (so it holds no ``:`` and two kinds never
    collide); ``name`` is any non-empty text. Raises ValueError otherwise."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"secret kind must be lower-case letters, digits and dashes: {kind!r}")
    if not isinstance(name, str) or not name:
        raise ValueError("secret name must be a non-empty string")
    return f"{kind}:{name}"


def store_secret(kind: str, name: str, value: str) -> None:
    """Put ``value`` in the OS keyring as secret ``name`` of ``kind``, replacing any earlier one.

    Raises SecretsUnavailable (no usable OS keyring, locked, failed); ValueError/TypeError for a
    bad kind, name or value."""
    key = secret_key(kind, name)
    if not isinstance(value, str):
        raise TypeError("a secret value must be a str")
    backend = _usable_backend(kind)
    _call(backend, "storing", key, value, backend.set_password, SERVICE, key, value)
    log.debug("stored secret %s in %s", key, _name(backend))


def load_secret(kind: str, name: str) -> str | None:
    """The secret ``name`` of ``kind`` from the OS keyring, or None when there is none.

    Raises SecretsUnavailable (no usable OS keyring, locked, failed)."""
    key = secret_key(kind, name)
    backend = _usable_backend(kind)
    return _call(backend, "reading", key, None, backend.get_password, SERVICE, key)


def delete_secret(kind: str, name: str) -> None:
    """Remove secret ``name`` of ``kind`` from the OS keyring; nothing happens when it is absent.

    Raises SecretsUnavailable (no usable OS keyring, locked, failed, or it is still there)."""
    key = secret_key(kind, name)
    backend = _usable_backend(kind)
    from keyring.errors import PasswordDeleteError  # importable: there is a backend

    try:
        _call(backend, "deleting", key, None, backend.delete_password, SERVICE, key,
              passthrough=PasswordDeleteError)
    except PasswordDeleteError:
        # Backends say "no such password" this way, but some say other things with it too.
        if _call(backend, "reading", key, None, backend.get_password, SERVICE, key) is not None:
            raise SecretsUnavailable(
                f"The OS keyring refused to delete {key} (keyring backend: {_name(backend)}). "
                "Delete it with the desktop's password manager."
            ) from None
    log.debug("deleted secret %s from %s", key, _name(backend))


def keyring_description() -> str:
    """Which keyring backend is in use, for diagnostics: e.g. ``"SecretService.Keyring"``, or
    ``"fail.Keyring (unusable)"``. Never raises."""
    try:
        import keyring

        configured = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not fail
        return f"none ({type(exc).__name__})"
    try:
        backend = _usable_backend(None)
    except SecretsUnavailable:
        return f"{_name(configured)} (unusable)"
    if backend is configured:
        return _name(backend)
    return f"{_name(configured)} -> {_name(backend)}"


# -- the backend ---------------------------------------------------------------------------------


def _usable_backend(kind: str | None) -> Any:
    """The configured keyring backend, or the real one behind a chainer; raises
    SecretsUnavailable when it is not an OS keyring or cannot be reached."""
    try:
        import keyring
        from keyring.backends.chainer import ChainerBackend

        configured = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - import or backend detection failed
        raise SecretsUnavailable(
            f"The keyring library cannot start ({type(exc).__name__}: {exc}). {_what_to_do(kind)}"
        ) from exc
    if isinstance(configured, ChainerBackend):
        real = [b for b in configured.backends if _refusal(b) is None]
        if not real:
            chained = ", ".join(_name(b) for b in configured.backends) or "nothing"
            raise SecretsUnavailable(
                f"No OS keyring is available (keyring backend: {_name(configured)} over "
                f"{chained}). {_what_to_do(kind)}"
            )
        return real[0]
    problem = _refusal(configured)
    if problem is not None:
        raise SecretsUnavailable(f"{problem} {_what_to_do(kind)}")
    return configured


def _refusal(backend: Any) -> str | None:
    """Why ``backend`` is not an OS keyring Charter can use, or None when it is."""
    name = _name(backend)
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return f"No OS keyring is available (keyring backend: {name})."
    if module.startswith(_FILE_BACKENDS) or _keeps_a_file(backend):
        return (f"The keyring backend {name} is not the OS keyring (it keeps secrets in a file), "
                "so Charter refuses it: name the OS keyring in PYTHON_KEYRING_BACKEND or "
                "keyringrc.cfg, or uninstall that backend.")
    try:
        priority = backend.priority
    except Exception as exc:  # noqa: BLE001 - backends say "not available here" by raising
        return f"The OS keyring cannot be reached (keyring backend: {name}): {exc}."
    if priority <= 0:
        return f"No OS keyring is available (keyring backend: {name}, priority {priority})."
    return None


def _keeps_a_file(backend: Any) -> bool:
    try:
        return getattr(backend, "file_path", None) is not None
    except Exception:  # noqa: BLE001 - a property that cannot even say where is no better
        return True


def _call(backend: Any, doing: str, key: str, value: str | None, fn: Any, *args: Any,
          passthrough: type[BaseException] | None = None) -> Any:
    """``fn(*args)``, with the backend's failures turned into SecretsUnavailable.

    Backends fail with exceptions from many libraries that share no base class (keyring,
    secretstorage, jeepney, dbus-python, pywin32, the macOS Security framework), and every one
    of them means the keyring failed, so all are caught here."""
    try:
        return fn(*args)
    except Exception as exc:
        if passthrough is not None and isinstance(exc, passthrough):
            raise
        name = _name(backend)
        if _is_locked(exc):
            raise SecretsUnavailable(
                f"The OS keyring is locked (keyring backend: {name}) and was not unlocked, so "
                f"Charter could not finish {doing} {key}. Unlock it (GNOME Keyring: the "
                "Passwords and Keys application, or sign in to the desktop again) and try again."
            ) from exc
        detail = _scrub(f"{type(exc).__name__}: {exc}", value)
        raise SecretsUnavailable(
            f"The OS keyring failed while {doing} {key} (keyring backend: {name}): {detail}. "
            "Check that it is running and unlocked, then try again."
        ) from exc


def _is_locked(exc: BaseException) -> bool:
    from keyring.errors import KeyringLocked

    # secretstorage's LockedException is matched by name: importing it would tie this module to
    # the Linux backend.
    return isinstance(exc, KeyringLocked) or type(exc).__name__ == "LockedException"


def _scrub(text: str, value: str | None) -> str:
    return text.replace(value, "***") if value else text


def _name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__.removeprefix('keyring.backends.')}.{cls.__qualname__}"


def _what_to_do(kind: str | None) -> str:
    things = _KIND_NOUNS.get(kind or "", "secrets")
    if sys.platform == "darwin":
        where = "make sure your login Keychain is available and unlocked"
    elif sys.platform == "win32":
        where = "make sure the Windows Credential Manager is available"
    else:
        where = "start a Secret Service (GNOME Keyring or KWallet) in your desktop session"
    advice = f"Charter keeps {things} only in the OS keyring: {where}"
    if kind == "ssh-passphrase":
        advice += ", or use an SSH agent instead of a passphrase"
    return advice + "."
