"""Fixtures for deployment tests: a real OpenSSH server (see tests/sshd_server.py).

  sshd        session-scoped SshdServer: .host, .port, .user, .client_key_path, .host_key,
              .root (the server's deployment directory), .run_in_server(argv),
              .spawn_in_server(argv), .regenerate_host_key(), .stop()/.start(), .proxy(),
              .small_disk(path, size_mb), .client_key_with_passphrase(p), .log_text(),
              .in_namespace / .netns (as root: its own network namespace with no route out)
  ssh_target  a core.deploy.ssh.Target for it: the client key and the currently pinned host key

Missing sshd or ssh-keygen makes these fixtures FAIL (never skip): run `./installers/dev.sh setup`
as root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servicekit import made_or_fail
from sshd_server import SshdServer, SshdUnavailable

from core.deploy.ssh import Target


_running: list[SshdServer] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing test's report carries the tail of the sshd log."""
    report = yield
    if report.failed and _running and "sshd" in getattr(item, "fixturenames", ()):
        tail = "\n".join(_running[0].log_text().splitlines()[-60:])
        report.sections.append(("sshd log (tail)", tail))
    return report


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshdServer]:
    server = made_or_fail(SshdServer, SshdUnavailable, "OpenSSH test server")
    server.start()
    _running.append(server)
    try:
        yield server
    finally:
        _running.remove(server)
        server.close()


@pytest.fixture
def ssh_target(sshd: SshdServer) -> Target:
    return Target(host=sshd.host, port=sshd.port, user=sshd.user, host_key=sshd.host_key,
                  key_path=str(sshd.client_key_path))


@pytest.fixture(scope="session")
def world(tmp_path_factory, sshd: SshdServer):
    """A store with Retail PD v1, v2 approved (v3 draft) and the server "prod-1" enrolled on
    the test sshd, its agent runtime installed from the offline kit (tests/deploy/deploykit.py).
    Shared by the deployment tests, which each start from whatever the server serves."""
    from deploykit import make_world

    folder = tmp_path_factory.mktemp("deploy")
    w = make_world(folder, sshd)
    with pytest.MonkeyPatch.context() as mp:  # the test wheel cache, as tests/conftest.py sets
        mp.setenv("CHARTER_CACHE_DIR", str(Path.home() / ".cache" / "charter-test-cache"))
        report, _ = w.svc.servers.install_runtime(w.ivan, w.server)
    assert report.ok, report.to_json()
    try:
        yield w
    finally:
        sshd.run_in_server([str(w.root / "bin" / "charter-agentctl"), "stop"])
        w.svc.close()
