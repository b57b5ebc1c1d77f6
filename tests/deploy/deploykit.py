"""A console store with approved versions ready to deploy, and a real server enrolled for them.

``make_world(folder, sshd)`` builds, on SQLite: users (ivan IT, dana data scientist, max and mia
managers), the model "Retail PD" with two approved tier-3 versions (different artifacts, each
evaluated so it has reference answers, documented and approved) and a draft v3, and a server "prod-1" enrolled
on the test sshd with its pinned host key, the agent runtime installed from the offline kit
(built here, installed over SSH inside the server's network namespace with no route out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.container import Services, build_services
from core.entities import Principal
from core.permissions import Role
from core.security import Hasher, HashParams
from core.services.evaluation import EvaluationRequest
from core.services.importer import ImportRequest
from core.store.opening import open_store
from core.validation.evaluate import EvaluationSettings

PW = "purple monkey dishwasher 42"
FEATURES = ["income", "age", "utilisation"]
MODEL = "Retail PD"


@dataclass
class World:
    svc: Services
    people: dict[str, Principal]
    folder: Path
    server: str
    root: Path
    holdout: pd.DataFrame

    @property
    def ivan(self) -> Principal:
        return self.people["ivan"]

    def http(self, method: str, path: str, body: Any = None, *, ssh: Any = None
             ) -> tuple[int, Any]:
        """Ask the agent on the server, through SSH as the console does (over ``ssh`` if
        given, else a connection of its own)."""
        server = self.svc.servers.server(self.ivan, self.server)
        if ssh is None:
            with self.svc.servers.open_session(self.ivan, server) as own:
                return self.http(method, path, body, ssh=own)
        status, _, raw = ssh.http(server.agent_port, method, path,
                                  None if body is None else json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
        return status, json.loads(raw) if raw else None

    def session(self) -> Any:
        return self.svc.servers.open_session(self.ivan,
                                             self.svc.servers.server(self.ivan, self.server))

    def serving(self) -> str | None:
        from core.deploy.ssh_errors import PortClosed

        try:
            status, body = self.http("GET", "/v2/health/ready")
        except PortClosed:  # no agent running: nothing is served
            return None
        return body.get("release") if status == 200 else None


def train(folder: Path) -> pd.DataFrame:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rnd = np.random.default_rng(11)
    n = 800
    frame = pd.DataFrame({"income": rnd.normal(50_000, 12_000, n).round(2),
                          "age": rnd.integers(18, 80, n).astype(float),
                          "utilisation": rnd.uniform(0, 1, n).round(4)})
    y = ((frame["income"] / 50_000 - frame["utilisation"] + rnd.normal(0, 0.3, n)) > 0.4
         ).astype(int)
    for i, c in enumerate((1.0, 0.05, 0.2)):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))
        sio.dump(model.fit(frame.iloc[:500], y.iloc[:500]), folder / f"pd{i + 1}.skops")
    holdout = frame.iloc[500:].assign(default=y.iloc[500:].to_numpy())
    holdout.to_csv(folder / "holdout.csv", index=False)
    return holdout


def approved_version(svc: Services, people: dict[str, Principal], folder: Path,
                     artifact: str, *, model: str = MODEL, holdout: str = "holdout.csv") -> int:
    """Import, evaluate (no SHAP), document, submit and approve a tier-3 version."""
    dana, max_ = people["dana"], people["max"]
    version, _ = _import(svc, dana, folder / artifact, model)
    svc.evaluations.evaluate(dana, EvaluationRequest(
        model, version.number, folder / holdout,
        EvaluationSettings(explain=False, latency_budget_s=0.3)))
    svc.documentation.generate(dana, model, version.number)
    svc.workflow.transition(dana, model, version.number, "submit", reason="ready",
                            password=PW)
    svc.workflow.transition(max_, model, version.number, "approve", reason="go", password=PW)
    return version.number


def _import(svc: Services, who: Principal, artifact: Path, model: str = MODEL
            ) -> tuple[Any, Any]:
    from core.services.importer import ImportService

    return ImportService(svc.store, svc.artifacts).import_version(who, ImportRequest(
        model=model, artifact=artifact, model_fields={"risk_tier": 3}))


def make_world(folder: Path, sshd: Any, *, server: str = "prod-1") -> World:
    """The world in ``folder``; its artifact store is ``folder/data/artifacts`` (the command
    line finds it with ``CHARTER_DATA_DIR=folder/data``), never the user's own folders."""
    import os

    store = open_store(f"sqlite:///{folder / 'charter.db'}", create=True, workstation="ws-1")
    hasher = Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))
    saved = os.environ.get("CHARTER_DATA_DIR")
    os.environ["CHARTER_DATA_DIR"] = str(folder / "data")
    try:
        svc = build_services(store, hasher)
    finally:
        if saved is None:
            del os.environ["CHARTER_DATA_DIR"]
        else:
            os.environ["CHARTER_DATA_DIR"] = saved
    svc.users.create_first_admin("root.admin", "Rhea Root", "correct horse battery staple")
    admin = svc.auth.sign_in("root.admin", "correct horse battery staple", workstation="ws-1")
    people = {}
    for name, role in (("ivan", Role.IT), ("dana", Role.DATA_SCIENTIST), ("max", Role.MANAGER),
                       ("mia", Role.MANAGER)):
        issued = svc.users.add(admin, name, name.title(), [role])
        people[name] = svc.auth.set_password_with_code(name, issued.code, PW)
    holdout = train(folder)
    for artifact in ("pd1.skops", "pd2.skops"):
        approved_version(svc, people, folder, artifact)
    _import(svc, people["dana"], folder / "pd3.skops")  # v3 stays a draft
    key = svc.servers.scan(people["ivan"], sshd.host, sshd.port)
    svc.servers.enrol(people["ivan"], name=server, host=sshd.host, port=sshd.port,
                      username=sshd.user, key_path=str(sshd.client_key_path),
                      fingerprint=key.fingerprint, root=str(sshd.root / "charter"),
                      agent_port=18080)
    return World(svc, people, folder, server, sshd.root / "charter", holdout)


def deploy(w: World, number: int, **progress: Any) -> Any:
    """Request and run the deployment of Retail PD v``number`` on the world's server."""
    from core.services.deployments import Progress

    release, _ = w.svc.deployments.request_version(w.ivan, MODEL, number, w.server,
                                                   reason="test")
    done, _ = w.svc.deployments.run(w.ivan, release.release_id, Progress(**progress))
    return done
