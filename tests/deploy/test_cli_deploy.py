"""The deployment commands end to end: `charter server`, `policy`, `deploy`, `rollback`,
`releases` with --json, against the shared store and the real SSH server."""

from __future__ import annotations

import io
import json
import sys

from deploykit import PW, World

from app.main import main


def charter(monkeypatch, capsys, world: World, *args: str, user: str = "ivan",
            stdin: str = "") -> tuple[int, object, str]:  # noqa: ANN001
    monkeypatch.setattr(sys, "stdin", io.StringIO(PW + "\n" + stdin))
    monkeypatch.setenv("CHARTER_DATA_DIR", str(world.folder / "data"))  # its artifact store
    code = main([*args, "--db", f"sqlite:///{world.folder / 'charter.db'}", "--user", user,
                 "--password-stdin", "--json"])
    out, err = capsys.readouterr()
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = out
    return code, data, err


def test_deploy_check_list_and_rollback_from_the_command_line(world: World, monkeypatch,
                                                              capsys) -> None:
    code, report, err = charter(monkeypatch, capsys, world, "server", "check", world.server)
    assert code == 0 and report["ok"] and report["runtime_version"] == "charter-agent 0.1.0"
    code, first, err = charter(monkeypatch, capsys, world, "deploy", "Retail PD@1",
                               "--server", world.server)
    assert code == 0 and first["state"] == "serving", (first, err)
    code, release, err = charter(monkeypatch, capsys, world, "deploy", "Retail PD@2",
                                 "--server", world.server, "--reason", "CR-1")
    assert code == 0, (release, err)
    assert release["state"] == "serving" and release["versions"] == ["retail-pd@2"]
    assert [s["step"] for s in release["steps"]][-1] == "parity"
    assert world.serving() == release["release"]
    code, servers, _ = charter(monkeypatch, capsys, world, "server", "list")
    (row,) = [s for s in servers if s["name"] == world.server]
    assert row["serving"] == release["release"] and row["versions"] == ["retail-pd@2"]
    code, back, err = charter(monkeypatch, capsys, world, "rollback", "--server", world.server)
    assert code == 0 and back["state"] == "done", (back, err)
    assert world.serving() == back["previous_release"] == first["release"]
    code, history, _ = charter(monkeypatch, capsys, world, "releases", "--server",
                               world.server, "--limit", "3")
    assert history[0]["release"] == back["release"] and history[1]["state"] == "superseded"


def test_refusals_exit_1_with_the_reason(world: World, monkeypatch, capsys) -> None:
    code, data, _ = charter(monkeypatch, capsys, world, "deploy", "Retail PD@3", "--server",
                            world.server)
    assert code == 1 and "only approved versions are deployed" in data["message"]
    code, data, _ = charter(monkeypatch, capsys, world, "deploy", "Retail PD@1", "--server",
                            world.server, user="dana")
    assert code == 1 and data["error"] == "permission_denied"
    code, data, _ = charter(monkeypatch, capsys, world, "deploy", "Retail PD", "--server",
                            world.server)
    assert code == 1 and "NAME@NUMBER" in data["message"]
    code, data, _ = charter(monkeypatch, capsys, world, "server", "enrol", "x", "--host",
                            "bad host!", "--ssh-user", "u")
    assert code == 1 and "is not a host name" in data["message"]
