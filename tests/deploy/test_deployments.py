"""Deploying approved versions to a real OpenSSH server (in its own network namespace with no
route out, as root): the runtime from the offline kit, releases with parity checks, rollback,
and every fault leaving the previous release serving with the store saying what happened."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from deploykit import MODEL, World, deploy

from core.deploy import engine as engine_module
from core.deploy.bundle import version_ref
from core.errors import InvalidInput, KnownError, PermissionDenied
from core.services.deployments import DeploymentRefused, Progress


def events(w: World, prefix: str) -> list:
    from core import audit

    with w.svc.store.unit_of_work(None, write=False) as uow:
        rows = [audit.to_entity(r) for r in audit.iter_rows(uow.session)]
    return [e for e in rows if e.action.startswith(prefix)]


def steps(release) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(s.step, s.status) for s in release.steps]


def test_install_runtime_needs_no_internet_and_preflight_reports_it(world: World, sshd) -> None:
    report, _ = world.svc.servers.check(world.ivan, world.server)
    checks = {c.name: c for c in report.checks}
    assert report.ok and checks["runtime"].detail == "charter-agent 0.1.0"
    assert checks["python"].ok and "3.11" in checks["python"].detail
    assert checks["disk"].ok and "GiB free" in checks["disk"].detail
    assert world.svc.servers.server(world.ivan, world.server).last_check["ok"] is True
    (installed,) = events(world, "server.runtime_installed")
    assert json.loads(installed.new_values)["runtime"] == "charter-agent 0.1.0"
    assert sshd.in_namespace, "CI runs as root: the server must have no route out"
    out = sshd.run_in_server(["python3", "-c", "import socket; socket.create_connection("
                              "('pypi.org', 443), timeout=3)"])
    assert out.returncode != 0  # the runtime above was installed with no way to download


def test_deploy_a_version_serves_it_after_parity(world: World) -> None:
    seen: list[tuple[str, str]] = []
    done = deploy(world, 1, step=lambda step, status, detail: seen.append((step, status)))
    assert done.state == "serving", done.to_json()
    assert steps(done) == [(s, "ok") for s in ("preflight", "upload", "verify", "rename",
                                                "switch", "reload", "health", "parity")]
    assert seen == steps(done)
    ref = version_ref(MODEL, 1)
    assert done.parity[ref]["passed"] and done.parity[ref]["rows"] == 100
    assert done.parity[ref]["max_abs_difference"] <= 1e-9
    assert world.serving() == done.release_id
    assert (world.root / "current").resolve().name == done.release_id
    rows = world.holdout.iloc[:5][["income", "age", "utilisation"]].to_dict("records")
    status, body = world.http("POST", "/predict", {"records": rows})
    assert status == 200 and {p["version"] for p in body["predictions"]} == {ref}
    server = world.svc.servers.server(world.ivan, world.server)
    assert server.serving == done.release_id and server.serving_versions == (ref,)


def test_a_second_version_then_rollback_to_the_first(world: World) -> None:
    before = world.serving() or deploy(world, 1).release_id
    second = deploy(world, 2)
    assert second.state == "serving" and world.serving() == second.release_id
    assert second.previous_release is None  # a deployment, not a rollback
    rb, _ = world.svc.deployments.request_rollback(world.ivan, world.server, reason="test")
    done, _ = world.svc.deployments.run(world.ivan, rb.release_id)
    assert done.state == "done", done.to_json()
    assert steps(done) == [(s, "ok") for s in ("verify", "switch", "reload", "health",
                                                "parity")]
    assert world.serving() == before == done.previous_release
    states = {r.release_id: r.state for r in world.svc.deployments.releases(world.ivan)}
    assert states[before] == "serving" and states[second.release_id] == "superseded"
    assert [json.loads(e.new_values)["state"] for e in events(world, "deployment.succeeded")
            ][-1] == "done"


def test_only_approved_versions_and_only_it_deploys(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.svc.deployments.request_version(world.people["dana"], MODEL, 1, world.server)
    with pytest.raises(DeploymentRefused, match="v3 is draft; only approved versions"):
        world.svc.deployments.request_version(world.ivan, MODEL, 3, world.server)
    with pytest.raises(KnownError, match="There is no version"):
        world.svc.deployments.request_version(world.ivan, MODEL, 9, world.server)
    with pytest.raises(KnownError, match="No server named 'nowhere'"):
        world.svc.deployments.request_version(world.ivan, MODEL, 1, "nowhere")


def test_a_corrupted_upload_is_caught_before_the_switch(world: World) -> None:
    before = world.serving() or deploy(world, 1).release_id

    def corrupt(done: int, total: int) -> None:
        if done == total:  # the last file is on the server: spoil one before the check
            for p in world.root.glob("releases/*.partial/artifacts/*.skops"):
                p.write_bytes(p.read_bytes()[:-1] + b"X")
    done = deploy(world, 2, bytes=corrupt)
    assert done.state == "failed" and steps(done)[-1] == ("verify", "failed")
    assert "corrupted" in done.error and "Nothing was switched" in done.error
    assert world.serving() == before
    assert not list(world.root.glob("releases/*.partial"))


def test_an_agent_that_fails_its_health_check_is_rolled_back(world: World,
                                                            monkeypatch) -> None:
    before = world.serving() or deploy(world, 1).release_id
    monkeypatch.setattr(engine_module, "HEALTH_TIMEOUT_S", 4.0)

    def spoil(step: str, status: str, detail: str) -> None:
        if (step, status) == ("rename", "ok"):  # verified, then changed: the agent refuses it
            for p in world.root.glob(f"releases/{detail.split('/')[-1]}/artifacts/*.skops"):
                p.write_bytes(b"not a model")
    done = deploy(world, 2, step=spoil)
    assert done.state == "rolled_back", done.to_json()
    # the agent refuses the release it cannot load: charter-agentctl reload reports it (or,
    # had it stayed silent, the health check would not see the new release)
    failed = [s for s, status in steps(done) if status == "failed"]
    assert failed in (["reload"], ["health"]) and steps(done)[-1] == ("rollback", "ok")
    assert world.serving() == before
    assert (world.root / "current").resolve().name == before


def test_an_agent_answering_unlike_validation_fails_parity_and_is_rolled_back(
        world: World, monkeypatch) -> None:
    before = world.serving() or deploy(world, 1).release_id
    real = world.svc.deployments._payload

    def shifted(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        p = real(*args, **kw)
        outputs = (np.asarray(p.reference.outputs) + 1e-6).tolist()
        return type(p)(**{**p.__dict__, "reference": type(p.reference)(
            **{**p.reference.__dict__, "outputs": outputs})})
    monkeypatch.setattr(world.svc.deployments, "_payload", shifted)
    done = deploy(world, 2)
    assert done.state == "rolled_back"
    assert ("parity", "failed") in steps(done) and "does not answer as validated" in done.error
    assert world.serving() == before


def test_a_connection_dropped_mid_upload_leaves_the_old_release(world: World, sshd,
                                                                 tmp_path: Path) -> None:
    before = world.serving() or deploy(world, 1).release_id
    proxy = sshd.proxy()
    key = world.svc.servers.scan(world.ivan, proxy.host, proxy.port)
    name = f"via-proxy-{tmp_path.name[-6:]}".replace("_", "-")
    world.svc.servers.enrol(world.ivan, name=name, host=proxy.host, port=proxy.port,
                            username=sshd.user, key_path=str(sshd.client_key_path),
                            fingerprint=key.fingerprint, root=str(world.root),
                            agent_port=18080)
    # the same server through a proxy that cuts the connection once the upload has begun
    release, _ = world.svc.deployments.request_version(world.ivan, MODEL, 2, name)
    done, _ = world.svc.deployments.run(world.ivan, release.release_id,
                                        Progress(bytes=lambda d, t: proxy.cut_after(1)))
    proxy.close()
    assert done.state == "failed", done.to_json()
    assert proxy.cuts >= 1
    assert (done.steps[-1].step, done.steps[-1].status) in (("upload", "failed"),
                                                            ("verify", "failed"))
    assert "connection" in done.error.lower()
    assert world.serving() == before
    failed = events(world, "deployment.failed")[-1]
    assert failed.object_id == done.release_id


def _small_server(world: World, sshd, name: str, size_mb: int) -> Path:
    """A second deployment folder on its own small file system (a real tmpfs), sharing the
    installed runtime, enrolled as ``name``."""
    root = sshd.small_disk(name, size_mb)
    (root / "runtime").symlink_to(world.root / "runtime")
    (root / "bin").mkdir()
    (root / "bin" / "charter-agentctl").write_bytes(
        (world.root / "bin" / "charter-agentctl").read_bytes())
    (root / "bin" / "charter-agentctl").chmod(0o755)
    (root / "releases").mkdir()
    key = world.svc.servers.scan(world.ivan, sshd.host, sshd.port)
    world.svc.servers.enrol(world.ivan, name=name, host=sshd.host, port=sshd.port,
                            username=sshd.user, key_path=str(sshd.client_key_path),
                            fingerprint=key.fingerprint, root=str(root), agent_port=18081)
    return root


def test_a_full_disk_refuses_at_preflight(world: World, sshd) -> None:
    root = _small_server(world, sshd, "tiny-disk", 16)
    release, _ = world.svc.deployments.request_version(world.ivan, MODEL, 1, "tiny-disk")
    done, _ = world.svc.deployments.run(world.ivan, release.release_id)
    assert done.state == "failed" and steps(done) == [("preflight", "failed")]
    assert "MiB free" in done.error and "Free space" in done.error
    assert not (root / "current").exists() and list((root / "releases").iterdir()) == []


def test_a_disk_that_fills_during_the_upload_changes_nothing(world: World, sshd) -> None:
    before = world.serving()
    root = _small_server(world, sshd, "filling-disk", 80)  # passes the 64 MiB margin
    filled = []

    def fill(done: int, total: int) -> None:  # another process takes the space meanwhile
        if not filled:
            free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
            filled.append(free)
            with (root / "filler").open("wb") as f:
                f.truncate(0)
                try:
                    f.write(b"\0" * free)  # as much as fits
                except OSError:
                    pass
    release, _ = world.svc.deployments.request_version(world.ivan, MODEL, 1, "filling-disk")
    done, _ = world.svc.deployments.run(world.ivan, release.release_id, Progress(bytes=fill))
    assert filled and done.state == "failed", (steps(done), done.error)
    assert steps(done)[-1] == ("upload", "failed") and "space" in done.error.lower()
    assert not (root / "current").exists()
    (root / "filler").unlink()
    assert not list((root / "releases").iterdir())  # the partial upload was removed
    assert world.serving() == before  # prod-1, on the other disk, is untouched


def test_bad_enrolments_are_refused_and_record_nothing(world: World, sshd) -> None:
    key = world.svc.servers.scan(world.ivan, sshd.host, sshd.port)
    good = dict(host=sshd.host, port=sshd.port, username=sshd.user,
                key_path=str(sshd.client_key_path), fingerprint=key.fingerprint,
                root="/opt/charter")
    for change, words in (({"name": "bad name"}, "Server name"),
                          ({"fingerprint": "SHA256:" + "A" * 43}, "not the"),
                          ({"root": "relative/path"}, "absolute path"),
                          ({"root": "/opt/../etc"}, "absolute path"),
                          ({"key_path": "/nonexistent/key"}, "does not exist"),
                          ({"name": world.server}, "already enrolled")):
        with pytest.raises(InvalidInput, match=words):
            world.svc.servers.enrol(world.ivan, **{"name": "new-one", **good, **change})
    assert [s.name for s in world.svc.servers.servers(world.ivan)].count("new-one") == 0
    with pytest.raises(PermissionDenied):
        world.svc.servers.enrol(world.people["max"], name="x", **good)


def test_a_key_passphrase_lives_in_the_os_keyring(world: World, sshd, os_keyring) -> None:
    from core.secrets import load_secret

    key_path = sshd.client_key_with_passphrase("correct pony 9")
    key = world.svc.servers.scan(world.ivan, sshd.host, sshd.port)
    world.svc.servers.enrol(world.ivan, name="with-passphrase", host=sshd.host, port=sshd.port,
                            username=sshd.user, key_path=str(key_path),
                            fingerprint=key.fingerprint, root=str(world.root),
                            agent_port=18080, passphrase="correct pony 9")
    assert load_secret("ssh-passphrase", "with-passphrase") == "correct pony 9"
    report, _ = world.svc.servers.check(world.ivan, "with-passphrase")
    assert report.ok, report.to_json()
    store_bytes = (world.folder / "charter.db").read_bytes()
    assert b"correct pony 9" not in store_bytes
    enrolled = events(world, "server.enrolled")[-1]
    assert "correct pony 9" not in enrolled.new_values
    assert json.loads(enrolled.new_values)["passphrase"] == "in the OS keyring"
    # without the keyring's secret the key cannot be opened: said plainly, nothing changes
    from core.secrets import delete_secret

    delete_secret("ssh-passphrase", "with-passphrase")
    report, _ = world.svc.servers.check(world.ivan, "with-passphrase")
    (check,) = report.checks
    assert check.ok is False and "passphrase" in check.detail.lower()


def test_cancel_during_the_upload_stops_before_the_switch(world: World) -> None:
    before = world.serving() or deploy(world, 1).release_id
    release, _ = world.svc.deployments.request_version(world.ivan, MODEL, 2, world.server)
    queued = world.svc.deployments.queued(world.ivan, world.server)
    assert [r.release_id for r in queued] == [release.release_id]

    def press_cancel(done: int, total: int) -> None:
        world.svc.deployments.cancel(world.ivan, release.release_id)
    done, _ = world.svc.deployments.run(world.ivan, release.release_id,
                                        Progress(bytes=press_cancel))
    assert done.state == "cancelled" and steps(done)[-1] == ("cancel", "info")
    assert world.serving() == before
    assert not list(world.root.glob("releases/*.partial"))
    # a queued release is cancelled outright and never runs
    queued, _ = world.svc.deployments.request_version(world.ivan, MODEL, 2, world.server)
    world.svc.deployments.cancel(world.ivan, queued.release_id)
    again, _ = world.svc.deployments.run(world.ivan, queued.release_id)
    assert again.state == "cancelled" and again.steps == ()
    with pytest.raises(InvalidInput, match="only a queued or running release"):
        world.svc.deployments.cancel(world.ivan, queued.release_id)


def test_a_changed_host_key_is_refused_audited_and_alerted(world: World) -> None:
    from sshd_server import SshdServer

    from core.store.orm_deploy import SqlAlert

    with SshdServer() as other:
        key = world.svc.servers.scan(world.ivan, other.host, other.port)
        world.svc.servers.enrol(world.ivan, name="reinstalled", host=other.host,
                                port=other.port, username=other.user,
                                key_path=str(other.client_key_path),
                                fingerprint=key.fingerprint, root="/opt/charter-x")
        assert world.svc.servers.check(world.ivan, "reinstalled")[0].checks[0].ok
        other.regenerate_host_key()
        new = other.host_key.fingerprint
        report, _ = world.svc.servers.check(world.ivan, "reinstalled")
        (check,) = report.checks
        assert check.ok is False and key.fingerprint in check.detail and new in check.detail
        release, _ = world.svc.deployments.request_version(world.ivan, MODEL, 1,
                                                           "reinstalled")
        done, _ = world.svc.deployments.run(world.ivan, release.release_id)
        assert done.state == "failed" and steps(done) == [("connect", "failed")]
    refused = events(world, "server.host_key_refused")
    assert len(refused) == 2 and json.loads(refused[-1].new_values)["offered"] == new
    with world.svc.store.unit_of_work(None, write=False) as uow:
        alerts = [a for a in uow.session.query(SqlAlert).all() if a.subject == "reinstalled"]
    assert {a.kind for a in alerts} == {"host_key_mismatch", "deployment_failed"}
    assert all(a.state == "open" for a in alerts)
