"""The one typed settings schema.

Two scopes:

* ``store`` settings are policy shared by everyone on a store (lockout threshold, idle lock). They
  live in the database and are changed only through :class:`core.services.settings.SettingsService`,
  which audits every change.
* ``workstation`` settings belong to one person's machine (which store to open). They live in a JSON
  file in the platform's config folder. Window geometry is not here: the views keep it in QSettings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import paths
from core.errors import InvalidInput, NotFound
from core.files import write_atomically


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: type
    default: Any
    label: str
    group: str
    scope: str  # "store" or "workstation"
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: Any) -> Any:
        """Convert text or JSON input to this setting's type, or raise InvalidInput naming the rule."""
        try:
            if self.type is bool:
                if isinstance(raw, bool):
                    value: Any = raw
                elif str(raw).strip().lower() in {"1", "true", "yes", "on"}:
                    value = True
                elif str(raw).strip().lower() in {"0", "false", "no", "off"}:
                    value = False
                else:
                    raise ValueError
            elif self.type is int:
                if isinstance(raw, bool):
                    raise ValueError
                value = int(str(raw).strip())
            elif self.type is float:
                if isinstance(raw, bool):
                    raise ValueError
                value = float(str(raw).strip())
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            else:
                value = str(raw)
        except ValueError:
            kind = {int: "a whole number", float: "a finite number", bool: "yes or no"}.get(
                self.type, "text")
            raise InvalidInput(f"{self.label} ({self.key}) must be {kind}; got {raw!r}.") from None
        if self.type in (int, float):
            if self.minimum is not None and value < self.minimum:
                raise InvalidInput(f"{self.label} ({self.key}) must be at least {self.minimum}.")
            if self.maximum is not None and value > self.maximum:
                raise InvalidInput(f"{self.label} ({self.key}) must be at most {self.maximum}.")
        return value


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("auth.max_failed_sign_ins", int, 5, "Failed sign-ins before lock-out", "Sign-in",
                "store", "Consecutive wrong passwords that lock an account.", 1, 50),
    SettingSpec("auth.idle_lock_minutes", int, 15, "Idle minutes before the console locks",
                "Sign-in", "store", "The console asks for the password again after this.", 1, 480),
    SettingSpec("auth.min_password_length", int, 12, "Minimum password length", "Sign-in", "store",
                "New passwords shorter than this are refused.", 8, 256),
    SettingSpec("auth.one_time_code_hours", int, 72, "Hours a one-time sign-in code stays valid",
                "Sign-in", "store", "Codes issued for new users and password resets.", 1, 720),
    SettingSpec("registry.artifact_dir", str, "", "Artifact folder", "Registry", "workstation",
                "Folder of the content-addressed artifact store. Empty: 'artifacts' in the data "
                "folder. A team on PostgreSQL points every workstation at one shared path."),
    SettingSpec("store.url", str, "", "Store URL", "Store", "workstation",
                "SQLAlchemy URL of the store; empty means the SQLite file in the data folder."),
)



def _gate_specs() -> tuple[SettingSpec, ...]:
    """One store setting per acceptance gate and risk tier (see core.validation.gates)."""
    from core.validation.gates import GATES

    out = []
    for gate in GATES:
        for tier in (1, 2, 3):
            out.append(SettingSpec(
                gate.setting_key(tier), float, gate.defaults[tier - 1],
                f"Tier {tier}: {gate.label}", f"Acceptance gates (tier {tier})", "store",
                gate.help, gate.minimum, gate.maximum))
    return tuple(out)


def _workflow_specs() -> tuple[SettingSpec, ...]:
    """The tier policy of the workflow (see core.workflow.lifecycle)."""
    from core.workflow.lifecycle import DEFAULT_POLICY

    out = [SettingSpec("workflow.block_on_open_high_findings", bool, True,
                       "Open high-severity findings block approval", "Workflow", "store",
                       "A version with an open high-severity finding cannot be approved.")]
    for tier, (validation, compliance, months) in DEFAULT_POLICY.items():
        group = f"Workflow (tier {tier})"
        out += [
            SettingSpec(f"workflow.tier{tier}.requires_validation", bool, validation,
                        f"Tier {tier}: validation sign-off required", group, "store",
                        "Approval needs a validator's signature first."),
            SettingSpec(f"workflow.tier{tier}.requires_compliance", bool, compliance,
                        f"Tier {tier}: compliance review required", group, "store",
                        "Approval needs a compliance officer's signature first."),
            SettingSpec(f"workflow.tier{tier}.revalidate_months", int, months,
                        f"Tier {tier}: months until revalidation", group, "store",
                        "An approved version falls due for revalidation this long after its "
                        "approval.", 1, 120),
        ]
    return tuple(out)


SPECS = SPECS + _gate_specs() + _workflow_specs()
_BY_KEY = {spec.key: spec for spec in SPECS}


def spec(key: str) -> SettingSpec:
    try:
        return _BY_KEY[key]
    except KeyError:
        known = ", ".join(sorted(_BY_KEY))
        raise NotFound(f"There is no setting named {key!r}.", hint=f"Known settings: {known}.") from None


def store_specs() -> list[SettingSpec]:
    return [s for s in SPECS if s.scope == "store"]


class WorkstationSettings:
    """Settings of this workstation, kept as JSON in the platform's config folder."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / "settings.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"The settings file {self.path} cannot be read: {exc}.",
                hint="Fix or delete the file; Charter then uses its defaults.",
            ) from None
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Any:
        s = spec(key)
        return self.load().get(key, s.default)

    def set(self, key: str, raw: Any) -> None:
        s = spec(key)
        if s.scope != "workstation":
            raise InvalidInput(f"{key} is a store setting; change it with `charter settings set`.")
        data = self.load()
        data[key] = s.parse(raw)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so a crash never leaves half a settings file.
        write_atomically(self.path, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"))
