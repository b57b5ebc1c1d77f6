"""Secrets live in the OS keyring: round trips through a real GNOME Keyring over D-Bus (the
``os_keyring`` fixture), and refusal of everything that is not an OS keyring."""

from __future__ import annotations

import gc
import logging
import os
import warnings
from pathlib import Path

import keyring.backend
import keyring.core
import pytest
from keyring.backends.chainer import ChainerBackend
from keyring.errors import PasswordDeleteError

from core.secrets import (
    SERVICE,
    SecretsUnavailable,
    delete_secret,
    keyring_description,
    load_secret,
    secret_key,
    store_secret,
)

SSH = "ssh-passphrase"
PASSPHRASE = "correct horse battery staple 7f3a"


# -- stand-in backends that are not an OS keyring -----------------------------------------------
# viable = False keeps them out of keyring's own backend discovery for the rest of the run.


class MemoryBackend(keyring.backend.KeyringBackend):
    priority = 1
    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.saved.get((service, username))

    def set_password(self, service, username, password):
        self.saved[(service, username)] = password

    def delete_password(self, service, username):
        if self.saved.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class PlaintextKeyring(MemoryBackend):
    """Looks like keyrings.alt's plaintext file backend (which is not installed here)."""

    priority = 0.5
    file_path = "~/.local/share/python_keyring/keyring_pass.cfg"


PlaintextKeyring.__module__ = "keyrings.alt.file"


class SomeFileKeyring(MemoryBackend):
    """A third-party backend that keeps secrets in a file, with a confident priority."""

    priority = 9
    file_path = "/tmp/secrets.cfg"


class ZeroPriorityKeyring(MemoryBackend):
    priority = 0


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# -- round trips through the real Secret Service --------------------------------------------------


def test_store_load_overwrite_delete(os_keyring) -> None:
    store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    assert load_secret(SSH, "prod-scoring-01") == PASSPHRASE

    store_secret(SSH, "prod-scoring-01", "a newer passphrase")
    assert load_secret(SSH, "prod-scoring-01") == "a newer passphrase"

    delete_secret(SSH, "prod-scoring-01")
    assert load_secret(SSH, "prod-scoring-01") is None


def test_names_and_values_with_unicode_and_spaces(os_keyring) -> None:
    names = ["Prod scoring – Zürich 01", "東京 staging", "with:colon and  two spaces"]
    for i, name in enumerate(names):
        store_secret(SSH, name, f"pässwörd {i} 🔑")
    assert [load_secret(SSH, name) for name in names] == [f"pässwörd {i} 🔑" for i in range(3)]
    assert load_secret(SSH, "Prod scoring - Zurich 01") is None


def test_two_kinds_with_the_same_name_stay_apart(os_keyring) -> None:
    store_secret(SSH, "risk-db", "the key passphrase")
    store_secret("db-password", "risk-db", "the database password")

    delete_secret(SSH, "risk-db")

    assert load_secret(SSH, "risk-db") is None
    assert load_secret("db-password", "risk-db") == "the database password"


def test_an_absent_secret_loads_as_none_and_deletes_quietly(os_keyring) -> None:
    assert load_secret(SSH, "never-stored") is None
    delete_secret(SSH, "never-stored")
    assert load_secret(SSH, "never-stored") is None


def test_the_value_is_in_the_secret_service_and_in_no_file_or_log(os_keyring, keyring_service,
                                                                  caplog) -> None:
    caplog.set_level(logging.DEBUG)
    login_keyring = keyring_service.keyrings_dir / "login.keyring"
    size_before = login_keyring.stat().st_size
    store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    assert load_secret(SSH, "prod-scoring-01") == PASSPHRASE

    with keyring_service.connect() as conn:
        items = list(keyring_service.default_collection(conn).search_items(
            {"service": SERVICE, "username": "ssh-passphrase:prod-scoring-01"}))
        assert [item.get_secret() for item in items] == [PASSPHRASE.encode()]

    needle = PASSPHRASE.encode()
    for var in ("CHARTER_DATA_DIR", "CHARTER_CONFIG_DIR", "CHARTER_LOG_DIR"):
        folder = Path(os.environ[var])
        assert not folder.exists() or _files_containing(folder, needle) == []
    # gnome-keyring has written the item to its own file, encrypted.
    assert login_keyring.stat().st_size > size_before
    assert _files_containing(keyring_service.home, needle) == []
    assert "ssh-passphrase:prod-scoring-01" in caplog.text
    assert PASSPHRASE not in caplog.text


def test_description_names_the_secret_service(os_keyring) -> None:
    assert keyring_description() == "SecretService.Keyring"


def test_a_locked_collection_is_reported_as_locked(os_keyring, keyring_service) -> None:
    store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    with keyring_service.connect() as conn:
        keyring_service.default_collection(conn).lock()

    # The daemon has no prompter to ask for the password, so it dismisses the unlock prompt
    # at once, as a user pressing Cancel would.
    with pytest.raises(SecretsUnavailable, match="The OS keyring is locked") as info:
        load_secret(SSH, "prod-scoring-01")
    assert "reading ssh-passphrase:prod-scoring-01" in info.value.message
    with pytest.raises(SecretsUnavailable, match="locked"):
        store_secret(SSH, "prod-scoring-01", "another passphrase")
    with pytest.raises(SecretsUnavailable, match="locked"):
        delete_secret(SSH, "prod-scoring-01")

    # keyring 25.7's SecretService backend raises KeyringLocked before closing the D-Bus
    # connection it opened; collect those sockets here rather than in a later test.
    del info
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()

    keyring_service.unlock()
    assert load_secret(SSH, "prod-scoring-01") == PASSPHRASE


def test_an_unreachable_secret_service_is_reported(os_keyring, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")

    with pytest.raises(SecretsUnavailable) as info:
        load_secret(SSH, "prod-scoring-01")
    message = info.value.message
    assert message.startswith("The OS keyring cannot be reached (keyring backend: SecretService.Keyring)")
    assert "start a Secret Service (GNOME Keyring or KWallet)" in message
    assert keyring_description() == "SecretService.Keyring (unusable)"


# -- what is refused --------------------------------------------------------------------------------


def test_without_an_os_keyring_every_call_says_what_to_do() -> None:
    # No os_keyring: the suite's default is keyring's fail backend.
    expected = (
        "No OS keyring is available (keyring backend: fail.Keyring). Charter keeps SSH key "
        "passphrases only in the OS keyring: start a Secret Service (GNOME Keyring or KWallet) in "
        "your desktop session, or use an SSH agent instead of a passphrase."
    )
    for call in (lambda: store_secret(SSH, "prod-scoring-01", PASSPHRASE),
                 lambda: load_secret(SSH, "prod-scoring-01"),
                 lambda: delete_secret(SSH, "prod-scoring-01")):
        with pytest.raises(SecretsUnavailable) as info:
            call()
        assert info.value.message == expected
        assert info.value.code == "secrets_unavailable"
    with pytest.raises(SecretsUnavailable) as info:
        load_secret("db-password", "risk-db")
    assert "Charter keeps secrets only in the OS keyring" in info.value.message
    assert "SSH agent" not in info.value.message
    assert keyring_description() == "fail.Keyring (unusable)"


@pytest.mark.parametrize(
    ("backend_class", "says"),
    [
        pytest.param(PlaintextKeyring, "keyrings.alt.file.PlaintextKeyring is not the OS keyring",
                     id="keyrings.alt-plaintext"),
        pytest.param(SomeFileKeyring, "SomeFileKeyring is not the OS keyring (it keeps secrets in a file)",
                     id="file-based"),
        pytest.param(ZeroPriorityKeyring, "ZeroPriorityKeyring, priority 0). Charter keeps SSH key",
                     id="priority-0"),
    ],
)
def test_backends_that_are_not_an_os_keyring_are_refused(backend_class, says) -> None:
    backend = backend_class()
    keyring.core.set_keyring(backend)

    with pytest.raises(SecretsUnavailable) as info:
        store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    assert says in info.value.message
    with pytest.raises(SecretsUnavailable):
        load_secret(SSH, "prod-scoring-01")
    assert backend.saved == {}


def test_a_chainer_over_no_os_keyring_is_refused(monkeypatch) -> None:
    plaintext = PlaintextKeyring()
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [plaintext, ZeroPriorityKeyring()])
    keyring.core.set_keyring(ChainerBackend())

    with pytest.raises(SecretsUnavailable, match=r"No OS keyring is available \(keyring backend: "
                       r"chainer.ChainerBackend over keyrings.alt.file.PlaintextKeyring\)"):
        store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    assert plaintext.saved == {}


def test_a_chainer_uses_only_the_os_keyring_behind_it(os_keyring, keyring_service, monkeypatch) -> None:
    plaintext = SomeFileKeyring()  # a higher priority than the Secret Service's 5
    plaintext.saved[(SERVICE, "ssh-passphrase:prod-scoring-01")] = "stale, from a file"
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [plaintext, os_keyring])
    keyring.core.set_keyring(ChainerBackend())

    assert load_secret(SSH, "prod-scoring-01") is None
    store_secret(SSH, "prod-scoring-01", PASSPHRASE)

    assert load_secret(SSH, "prod-scoring-01") == PASSPHRASE
    assert plaintext.saved == {(SERVICE, "ssh-passphrase:prod-scoring-01"): "stale, from a file"}
    with keyring_service.connect() as conn:
        assert len(list(keyring_service.default_collection(conn).search_items({"service": SERVICE}))) == 1
    assert keyring_description() == "chainer.ChainerBackend -> SecretService.Keyring"


# -- failures of a usable backend -------------------------------------------------------------------


class BrokenBackend(MemoryBackend):
    def set_password(self, service, username, password):
        raise RuntimeError(f"D-Bus said no to {password!r}")

    def delete_password(self, service, username):
        raise PasswordDeleteError("permission denied")


def test_a_failing_backend_is_reported_without_the_secret() -> None:
    backend = BrokenBackend()
    keyring.core.set_keyring(backend)

    with pytest.raises(SecretsUnavailable) as info:
        store_secret(SSH, "prod-scoring-01", PASSPHRASE)
    assert info.value.message.startswith(
        "The OS keyring failed while storing ssh-passphrase:prod-scoring-01 "
        "(keyring backend: test_secrets.BrokenBackend): RuntimeError: D-Bus said no to '***'.")
    assert PASSPHRASE not in str(info.value)

    backend.saved[(SERVICE, "ssh-passphrase:prod-scoring-01")] = PASSPHRASE
    with pytest.raises(SecretsUnavailable, match="refused to delete ssh-passphrase:prod-scoring-01"):
        delete_secret(SSH, "prod-scoring-01")


def test_keys_name_kind_and_name() -> None:
    assert secret_key("ssh-passphrase", "prod-scoring-01") == "ssh-passphrase:prod-scoring-01"
    assert secret_key("db-password", "a:b") == "db-password:a:b"
    for kind in ("", "SSH", "ssh:passphrase", "ssh passphrase", "-ssh"):
        with pytest.raises(ValueError):
            secret_key(kind, "prod-scoring-01")
    with pytest.raises(ValueError):
        secret_key(SSH, "")
    with pytest.raises(TypeError):
        store_secret(SSH, "prod-scoring-01", b"bytes")  # type: ignore[arg-type]
