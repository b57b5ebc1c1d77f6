r"""The routing policy: which approved model version answers a request, and which ones shadow it.

A policy is a versioned JSON document that the console approves (it signs :attr:`sha256`) and
ships in the release folder. Standard library only: the agent carries it to a server alone.

Format ``charter.routing/1`` (every field shown; unknown fields are refused, so a typo such as
``"shadow"`` cannot silently do nothing; a key repeated in one object is refused too)::

    {
      "format": "charter.routing/1",
      "policy_id": "retail-pd",            # letters, digits, . _ -
      "version": 7,                        # positive integer, raised at each approved change
      "salt": "retail-pd",                 # optional, defaults to policy_id (see splits)
      "description": "...",                # optional, free text
      "versions": [                        # every version the policy may route to
        {"name": "retail-pd@3", "sha256": "<64 lowercase hex: the artifact it expects>"},
        {"name": "retail-pd@4", "sha256": "..."},
        {"name": "retail-pd@5", "sha256": "..."}
      ],
      "sticky_key": "customer_id",         # optional default for splits (a field name)
      "shadows": ["retail-pd@5"],          # optional, the policy's shadows (see below)
      "rules": [                           # ordered; the first whose condition is TRUE wins
        {"name": "senior-ne", "when": "age > 40 and region == \"NE\"",
         "target": "retail-pd@3", "shadows": []},
        {"name": "canary", "when": "true",
         "target": [{"version": "retail-pd@3", "weight": 95},
                    {"version": "retail-pd@4", "weight": 5}],
         "sticky_key": "customer_id"}
      ],
      "default": "retail-pd@3"             # answers when no rule matches
    }

A rule has a unique ``name`` (not ``"default"``, which names the default route), a ``when``
condition (required; ``"true"`` matches everything), a ``target`` (one version name, or a split
of two or more ``{"version", "weight"}``), and optionally ``sticky_key`` (splits only; it
overrides the policy's), ``shadows`` and ``description``. ``rules`` may be empty: every request
then goes to the default (one version, the simplest deployment). Conditions
follow :mod:`core.serving.conditions`: a missing field or a type mismatch makes a rule not
match, and routing never raises. A version name is ``model@N``.

Splits: weights are percentages (> 0, at most two decimals) summing to 100. A request's bucket
is ``int.from_bytes(sha256(salt + "\0key\0" + value)[:8], "big") % 10000``, and arms take
consecutive bucket ranges in document order, so one customer keeps one version across processes
and restarts, the same ``salt`` keeps assignments when other rules change, and a canary listed
last keeps its customers when its weight grows. The sticky value is a non-empty string or an
integer (``123`` and ``"123"`` hash alike); when the request lacks it (missing, null, empty,
another type) the bucket comes from ``salt + "\0request\0" + request_id`` instead: the same
request id always routes alike, and :attr:`Route.sticky` says which was used.

What is signed: :meth:`RoutingPolicy.canonical_json` is the document with keys sorted, no
spaces, ``ensure_ascii=False`` and whole weights written as integers (condition text exactly as
authored), and :attr:`RoutingPolicy.sha256` hashes its UTF-8 bytes. A new ``version`` of a policy keeps its ``salt``
(the ``policy_id`` unless set), so existing customers keep their arm.

Shadows receive a copy of the request; their outputs are logged, never returned. A rule's
``shadows`` (even ``[]``) replaces the policy's ``shadows``; rules without it and the default
use the policy's. A shadow that could be the live version of the same route is refused.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from .conditions import Condition, PolicyError, field_getter, parse_condition

__all__ = ["FORMAT", "PolicyError", "Route", "Rule", "RoutingPolicy"]

FORMAT = "charter.routing/1"
BUCKETS = 10_000
MAX_DOCUMENT_BYTES = 1_000_000
MAX_RULES = 1_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}@[1-9][0-9]{0,8}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_TOP = ("format", "policy_id", "version", "salt", "description", "versions", "sticky_key",
        "shadows", "rules", "default")
_RULE = ("name", "when", "target", "sticky_key", "shadows", "description")


class Route(NamedTuple):
    """Where one request goes. ``rule`` is the matching rule's name or ``"default"``;
    ``rule_index`` its 0-based position (None for the default); ``bucket`` is 0..9999 for a
    split (else None) and ``sticky`` is ``"key"`` or ``"request_id"`` for a split.

    A named tuple, not a frozen dataclass: it is built once per request and a tuple is built
    about four times faster; routes without a split are shared, prebuilt instances."""

    live: str
    shadows: tuple[str, ...]
    rule: str
    rule_index: int | None
    bucket: int | None = None
    sticky: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    index: int
    condition: Condition
    arms: tuple[tuple[str, int], ...]  # (version, exclusive upper bucket); one arm = no split
    shadows: tuple[str, ...]
    sticky_key: str | None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PolicyError(f"policy: key {key!r} appears twice in one object")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise PolicyError(f"policy: {name} is not a JSON number")


def _sticky_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class RoutingPolicy:
    """A validated routing policy, its conditions compiled once. Build with :meth:`from_json`."""

    def __init__(self, document: dict[str, Any], rules: tuple[Rule, ...],
                 versions: dict[str, str], shadows: tuple[str, ...]) -> None:
        self.policy_id: str = document["policy_id"]
        self.version: int = document["version"]
        self.salt: str = document.get("salt", self.policy_id)
        self.default: str = document["default"]
        self.sticky_key: str | None = document.get("sticky_key")
        self.rules = rules
        self.shadows = shadows
        self._versions = versions
        self._canonical = json.dumps(document, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False)
        self.sha256 = hashlib.sha256(self._canonical.encode("utf-8")).hexdigest()
        salt = self.salt.encode("utf-8")
        self._key_prefix = salt + b"\0key\0"
        self._request_prefix = salt + b"\0request\0"
        self._default_route = Route(self.default, shadows, "default", None)
        # One (evaluate, fixed route or None, rule, arm bounds, arm versions, sticky getter)
        # per rule: a rule with one target returns the same frozen Route every time.
        self._plan = tuple(
            (r.condition.evaluate,
             Route(r.arms[0][0], r.shadows, r.name, r.index) if len(r.arms) == 1 else None,
             r, [b for _, b in r.arms], [v for v, _ in r.arms],
             field_getter(tuple(r.sticky_key.split("."))) if r.sticky_key else None)
            for r in rules)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any]) -> RoutingPolicy:
        """Parse and validate a policy document (JSON text or an already-decoded object).

        Raises :class:`PolicyError` whose message names the field, or the rule by index and name
        (``rules[1] ("canary"): ...``), and what is wrong with it.
        """
        if isinstance(source, (str, bytes, bytearray)):
            if len(source) > MAX_DOCUMENT_BYTES:
                raise PolicyError(f"policy: document larger than {MAX_DOCUMENT_BYTES} bytes")
            try:
                source = json.loads(source, object_pairs_hook=_reject_duplicate_keys,
                                    parse_constant=_reject_constant)
            except (ValueError, RecursionError) as exc:
                if isinstance(exc, PolicyError):
                    raise
                raise PolicyError(f"policy: not valid JSON: {exc}") from None
        if not isinstance(source, Mapping):
            raise PolicyError("policy: the document must be a JSON object")
        return _Validator(dict(source)).build(cls)

    @property
    def request_fields(self) -> frozenset[str]:
        """The top-level request fields the policy reads (in conditions and as sticky keys).
        A caller may send them beside a model's inputs; the agent drops them before a model
        that does not take them sees the record."""
        names = {name for r in self.rules for name in r.condition.fields}
        names |= {r.sticky_key for r in self.rules if r.sticky_key}
        if self.sticky_key:  # sent by callers even while no rule splits (a canary at 100%)
            names.add(self.sticky_key)
        return frozenset(n.split(".", 1)[0] for n in names)

    def versions(self) -> dict[str, str]:
        """Every version the policy may route to, with the artifact SHA-256 it expects."""
        return dict(self._versions)

    def canonical_json(self) -> str:
        """The document as signed: keys sorted, no spaces, ``ensure_ascii=False``; hash its
        UTF-8 bytes to get :attr:`sha256`. Weights that are whole numbers are written as
        integers; condition text is kept exactly as authored."""
        return self._canonical

    def __repr__(self) -> str:
        return f"<RoutingPolicy {self.policy_id} v{self.version} {self.sha256[:12]}>"

    # ------------------------------------------------------------------ routing
    def route(self, record: Mapping[str, Any], request_id: str) -> Route:
        """The route for one request. Never raises for any record content."""
        for evaluate, fixed, rule, bounds, arms, sticky in self._plan:
            if evaluate(record) is True:
                if fixed is not None:
                    return fixed
                key = _sticky_text(sticky(record))
                if key is not None:
                    digest = hashlib.sha256(self._key_prefix + key.encode("utf-8",
                                                                          "surrogatepass"))
                    source = "key"
                else:
                    digest = hashlib.sha256(self._request_prefix
                                            + str(request_id).encode("utf-8", "surrogatepass"))
                    source = "request_id"
                bucket = int.from_bytes(digest.digest()[:8], "big") % BUCKETS
                return Route(arms[bisect.bisect_right(bounds, bucket)], rule.shadows,
                             rule.name, rule.index, bucket, source)
        return self._default_route


class _Validator:
    """Checks a decoded document field by field; the first problem found is raised."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def build(self, cls: type[RoutingPolicy]) -> RoutingPolicy:
        doc = self.doc
        self.unknown("policy", doc, _TOP)
        if doc.get("format") != FORMAT:
            raise PolicyError(f"format: expected {FORMAT!r}, found {doc.get('format')!r}")
        if not isinstance(doc.get("policy_id"), str) or not _ID.fullmatch(doc["policy_id"]):
            raise PolicyError("policy_id: required, 1-100 letters, digits, '.', '_' or '-', "
                              f"found {doc.get('policy_id')!r}")
        version = doc.get("version")
        if type(version) is not int or version < 1:
            raise PolicyError(f"version: must be a positive integer, found {version!r}")
        for key in ("salt", "description"):
            if key in doc and (not isinstance(doc[key], str) or not doc[key]):
                raise PolicyError(f"{key}: must be a non-empty string")
        versions = self.versions(doc.get("versions"))
        if "sticky_key" in doc:
            self.field_name("sticky_key", doc["sticky_key"])
        shadows = self.version_list("shadows", doc.get("shadows", []), versions)
        if "default" not in doc:
            raise PolicyError("default: required: the version that answers when no rule matches")
        if doc["default"] not in versions:
            raise PolicyError(f"default: {doc['default']!r} is not in versions")
        if doc["default"] in shadows:
            raise PolicyError(f"shadows: {doc['default']!r} is also the default version")
        raw_rules = doc.get("rules")
        if not isinstance(raw_rules, list):
            raise PolicyError("rules: required, a list of rules")
        if len(raw_rules) > MAX_RULES:
            raise PolicyError(f"rules: {len(raw_rules)} rules; the limit is {MAX_RULES}")
        rules, names, clean = [], {}, []
        for index, raw in enumerate(raw_rules):
            rule, clean_rule = self.rule(index, raw, versions, shadows, doc.get("sticky_key"))
            if rule.name in names:
                raise PolicyError(f"rules[{index}] ({rule.name!r}): name already used by "
                                  f"rules[{names[rule.name]}]")
            names[rule.name] = index
            rules.append(rule)
            clean.append(clean_rule)
        return cls({**doc, "rules": clean}, tuple(rules), versions, shadows)

    @staticmethod
    def unknown(where: str, obj: Mapping[str, Any], known: tuple[str, ...]) -> None:
        extra = [k for k in obj if k not in known]
        if extra:
            raise PolicyError(f"{where}: unknown field {extra[0]!r} (known: {', '.join(known)})")

    @staticmethod
    def field_name(where: str, value: Any) -> str:
        if not isinstance(value, str) or not _FIELD.fullmatch(value) or any(
                p.startswith("__") for p in value.split(".")):
            raise PolicyError(f"{where}: must be a field name (letters, digits, '_', dotted), "
                              f"found {value!r}")
        return value

    @staticmethod
    def versions(raw: Any) -> dict[str, str]:
        if not isinstance(raw, list) or not raw:
            raise PolicyError('versions: required, a non-empty list of {"name", "sha256"}')
        out: dict[str, str] = {}
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise PolicyError(f'versions[{i}]: must be an object {{"name", "sha256"}}')
            _Validator.unknown(f"versions[{i}]", item, ("name", "sha256"))
            name, sha = item.get("name"), item.get("sha256")
            if not isinstance(name, str) or not _VERSION.fullmatch(name):
                raise PolicyError(f"versions[{i}]: name must look like 'model@3', found {name!r}")
            if name in out:
                raise PolicyError(f"versions[{i}]: {name!r} is listed twice")
            if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
                raise PolicyError(f"versions[{i}] ({name!r}): sha256 must be 64 lowercase hex "
                                  f"digits, found {sha!r}")
            out[name] = sha
        return out

    @staticmethod
    def version_list(where: str, raw: Any, versions: dict[str, str]) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise PolicyError(f"{where}: must be a list of version names")
        for v in raw:
            if v not in versions:
                raise PolicyError(f"{where}: {v!r} is not in versions")
            if raw.count(v) > 1:
                raise PolicyError(f"{where}: {v!r} is listed twice")
        return tuple(raw)

    def rule(self, index: int, raw: Any, versions: dict[str, str], shadows: tuple[str, ...],
             sticky_default: str | None) -> tuple[Rule, dict[str, Any]]:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"rules[{index}]: must be an object")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise PolicyError(f"rules[{index}]: name is required (1-100 characters), "
                              f"found {name!r}")
        where = f"rules[{index}] ({name!r})"
        if name == "default":
            raise PolicyError(f"{where}: the name 'default' is reserved for the default route")
        self.unknown(where, raw, _RULE)
        if "when" not in raw:
            raise PolicyError(f"{where}: 'when' is required (write \"true\" to match all)")
        try:
            condition = parse_condition(raw["when"])
        except PolicyError as exc:
            raise exc.prefixed(f"{where}: when") from None
        if "description" in raw and not isinstance(raw["description"], str):
            raise PolicyError(f"{where}: description must be a string")
        clean = dict(raw)
        target = raw.get("target")
        if isinstance(target, str):
            if target not in versions:
                raise PolicyError(f"{where}: target {target!r} is not in versions")
            if "sticky_key" in raw:
                raise PolicyError(f"{where}: sticky_key is only used by a split target")
            arms: tuple[tuple[str, int], ...] = ((target, BUCKETS),)
        elif isinstance(target, list):
            arms, clean["target"] = self.split(where, target, versions)
        else:
            raise PolicyError(f"{where}: target is required: a version name or a split "
                              '[{"version", "weight"}, ...]')
        sticky = None
        if len(arms) > 1:
            sticky = raw.get("sticky_key", sticky_default)
            if sticky is None:
                raise PolicyError(f"{where}: a split needs a sticky_key, in the rule or at the "
                                  "top of the policy")
            self.field_name(f"{where}: sticky_key", sticky)
        rule_shadows = (self.version_list(f"{where}: shadows", raw["shadows"], versions)
                        if "shadows" in raw else shadows)
        for v, _ in arms:
            if v in rule_shadows:
                origin = "its shadows" if "shadows" in raw else "the policy's shadows"
                raise PolicyError(f"{where}: {v!r} is a live target and also in {origin}")
        return Rule(name, index, condition, arms, rule_shadows, sticky), clean

    @staticmethod
    def split(where: str, raw: list[Any], versions: dict[str, str]
              ) -> tuple[tuple[tuple[str, int], ...], list[dict[str, Any]]]:
        if len(raw) < 2:
            raise PolicyError(f"{where}: a split needs at least two versions (for one, write "
                              '"target": "name")')
        arms, clean, seen, total = [], [], set(), 0
        for i, arm in enumerate(raw):
            at = f"{where}: target[{i}]"
            if not isinstance(arm, Mapping):
                raise PolicyError(f'{at}: must be an object {{"version", "weight"}}')
            _Validator.unknown(at, arm, ("version", "weight"))
            version, weight = arm.get("version"), arm.get("weight")
            if version not in versions:
                raise PolicyError(f"{at}: version {version!r} is not in versions")
            if version in seen:
                raise PolicyError(f"{at}: version {version!r} appears twice in the split")
            seen.add(version)
            try:
                hundredths = Decimal(repr(weight)) * 100 if type(weight) in (int, float) \
                    else Decimal("NaN")
            except InvalidOperation:
                hundredths = Decimal("NaN")
            if not hundredths.is_finite() or hundredths <= 0 or hundredths != int(hundredths):
                raise PolicyError(f"{at}: weight must be a percentage greater than 0 with at "
                                  f"most two decimals, found {weight!r}")
            total += int(hundredths)
            arms.append((version, total))
            clean.append({"version": version,
                          "weight": int(weight) if weight == int(weight) else weight})
        if total != BUCKETS:
            raise PolicyError(f"{where}: split weights sum to {Decimal(total) / 100}, not 100")
        return tuple(arms), clean
