"""A throwaway OS keyring for the test suite: GNOME Keyring's Secret Service on a private bus.

Everything lives in a fresh directory /tmp/charter-keyring.XXXXXXXX:

* ``dbus-daemon`` runs a private session bus from a minimal configuration with no service
  directories, so nothing is ever D-Bus-activated on it (no second keyring daemon, no GUI
  password prompter). Clients reach it through :attr:`KeyringService.bus_address`.
* ``gnome-keyring-daemon --components=secrets --unlock`` serves ``org.freedesktop.secrets`` on
  that bus, with HOME and the XDG folders inside the temp dir so no real keyring is touched. The
  random password it reads on stdin creates and unlocks the ``login`` collection, which is the
  default one (an empty password would leave it uncreated, and creating one later needs a
  prompt).

Unlocking a locked collection through the Secret Service API needs a prompt, which this daemon
cannot show (it dismisses it at once); :meth:`KeyringService.unlock` uses GNOME Keyring's own
``UnlockWithMasterPassword`` method instead. Both daemons get SIGTERM if the test process dies.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 15
SETUP_HINT = "run `./installers/dev.sh setup` as root (Debian packages: dbus-daemon gnome-keyring)"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
_GNOME_KEYRING_IFACE = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"


class KeyringServiceUnavailable(RuntimeError):
    """dbus-daemon, gnome-keyring-daemon or the secretstorage library is missing."""


def _die_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` under util-linux's setpriv, which asks the kernel to send it SIGTERM when the test
    process dies (PR_SET_PDEATHSIG survives the exec), so a killed run leaves no daemons."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd] if setpriv else cmd


class KeyringService:
    """One running private bus + Secret Service. Use :meth:`start` / :meth:`stop` (or ``with``)."""

    def __init__(self) -> None:
        missing = [exe for exe in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(exe) is None]
        if missing:
            raise KeyringServiceUnavailable(f"{' and '.join(missing)} not found: {SETUP_HINT}")
        if importlib.util.find_spec("secretstorage") is None:  # keyring's Secret Service backend
            raise KeyringServiceUnavailable(f"the secretstorage package is not installed: {SETUP_HINT}")
        self.password = secrets.token_hex(16)
        self.base: Path | None = None
        self.bus_address: str | None = None
        self._bus: subprocess.Popen[bytes] | None = None
        self._daemon: subprocess.Popen[bytes] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def home(self) -> Path:
        assert self.base is not None
        return self.base / "home"

    @property
    def keyrings_dir(self) -> Path:
        """Where gnome-keyring writes its (encrypted) collections."""
        return self.home / ".local" / "share" / "keyrings"

    def start(self) -> "KeyringService":
        self.base = Path(tempfile.mkdtemp(prefix="charter-keyring.", dir="/tmp"))
        try:
            self._start_bus()
            self._start_daemon()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_bus(self) -> None:
        assert self.base is not None
        config = self.base / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=self.base / "bus"))
        with open(self.base / "bus.log", "wb") as log:
            self._bus = subprocess.Popen(
                _die_with_parent(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
                                  "--print-address=1"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            )
        assert self._bus.stdout is not None
        ready, _, _ = select.select([self._bus.stdout], [], [], START_TIMEOUT_S)
        line = self._bus.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("unix:"):
            raise RuntimeError(f"dbus-daemon printed no bus address (exit {self._bus.poll()})\n{self.log_tail()}")
        self.bus_address = line

    def _start_daemon(self) -> None:
        assert self.base is not None and self.bus_address is not None
        runtime = self.base / "run"
        runtime.mkdir(mode=0o700)
        # A minimal environment: nothing from the developer's desktop session leaks in.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_RUNTIME_DIR": str(runtime),
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
        }
        with open(self.base / "gnome-keyring.log", "wb") as log:
            self._daemon = subprocess.Popen(
                _die_with_parent(["gnome-keyring-daemon", "--foreground", "--components=secrets",
                                  "--unlock", f"--control-directory={runtime / 'keyring'}"]),
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.base,
            )
        assert self._daemon.stdin is not None
        self._daemon.stdin.write(self.password.encode())
        self._daemon.stdin.close()

    def _wait_ready(self) -> None:
        """Until the default collection answers, unlocked."""
        import secretstorage

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            problem: str
            try:
                with self.connect() as conn:
                    collection = secretstorage.get_default_collection(conn)
                    if not collection.is_locked():
                        return
                    problem = "the default collection is locked"
            except Exception as exc:  # noqa: BLE001 - not up yet; reported on time-out
                problem = f"{type(exc).__name__}: {exc}"
            assert self._daemon is not None
            if self._daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gnome-keyring's Secret Service not ready ({problem})\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in (self._daemon, self._bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()
        self._daemon = self._bus = None
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self) -> "KeyringService":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        if self.base is None:
            return ""
        out = []
        for name in ("bus.log", "gnome-keyring.log"):
            path = self.base / name
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"{name} (tail):\n" + "\n".join(text))
        return "\n".join(out)

    # -- talking to it ------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs in its environment to use this keyring."""
        assert self.bus_address is not None
        return {"DBUS_SESSION_BUS_ADDRESS": self.bus_address,
                "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}

    def connect(self) -> Any:
        """A jeepney connection to the private bus, for ``secretstorage``; use as ``with``."""
        from jeepney.io.blocking import open_dbus_connection

        assert self.bus_address is not None
        return closing(open_dbus_connection(self.bus_address))

    def default_collection(self, conn: Any) -> Any:
        import secretstorage

        return secretstorage.get_default_collection(conn)

    def unlock(self) -> None:
        """Unlock the default collection with its password, without a prompt."""
        from secretstorage.util import DBusAddressWrapper, format_secret, open_session

        with self.connect() as conn:
            collection = self.default_collection(conn)
            if not collection.is_locked():
                return
            session = open_session(conn)
            gnome = DBusAddressWrapper("/org/freedesktop/secrets", _GNOME_KEYRING_IFACE, conn)
            gnome.call("UnlockWithMasterPassword", "o(oayays)", collection.collection_path,
                       format_secret(session, self.password.encode(), "text/plain"))
            if collection.is_locked():
                raise RuntimeError("the default collection is still locked after unlocking it")

    def clear(self) -> None:
        """Unlock the default collection and delete every item in it."""
        self.unlock()
        with self.connect() as conn:
            for item in list(self.default_collection(conn).get_all_items()):
                item.delete()
