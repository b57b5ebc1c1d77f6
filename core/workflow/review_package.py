"""Offline review packages and review response files, with no store.

A review package is one zip file written deterministically (sorted names, fixed times, fixed
permissions) holding exactly four members:

* ``manifest.json`` - ``charter-review-package/1``: the model, version, state, artifact and
  documentation hashes, who made it and when, the store's identity, and the SHA-256 and size of
  every other member;
* ``documentation.pdf`` - the newest documentation PDF of the version;
* ``evidence.json`` - the newest evaluation's evidence with its ``evidence_sha256``, the
  findings and the signatures (each with its validity when exported);
* ``audit.jsonl`` - the audit extract: one event a line with every chained field and its hash.
  An extract is not contiguous, so each event's own hash is checked over its fields, and
  ``prev_hash`` links are checked only between events whose sequence numbers are consecutive.

There is no key infrastructure: the SHA-256 of ``manifest.json`` is printed by the export and
recorded in the store's ``review.exported`` event; an imported response names it, and the store
checks it against that event. :func:`open_package` verifies every hash and returns the contents
read-only.

A response file (``charter-review-response/1``, JSON) carries the reviewer's comments and an
optional signature request, and a SHA-256 over its canonical JSON. It carries no signature: the
signature is made when the store imports it and the reviewer enters their password there.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.audit import FIELDS, event_hash
from core.errors import InvalidInput
from core.files import write_atomically

PACKAGE_FORMAT = "charter-review-package/1"
RESPONSE_FORMAT = "charter-review-response/1"
MANIFEST = "manifest.json"
PDF, EVIDENCE, AUDIT = "documentation.pdf", "evidence.json", "audit.jsonl"
MEMBERS = (AUDIT, PDF, EVIDENCE, MANIFEST)
# Generous for what Charter writes, small enough that a crafted package cannot fill memory.
MAX_MEMBER_BYTES = {MANIFEST: 1 << 20, PDF: 64 << 20, EVIDENCE: 64 << 20, AUDIT: 64 << 20}
MAX_RESPONSE_BYTES = 1 << 20
MAX_COMMENTS, MAX_COMMENT_CHARS = 200, 20_000
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
AUDIT_NOTE = ("audit.jsonl is an extract, not the whole trail: every event's hash is checked over "
              "its own fields, and prev_hash links only where sequence numbers are consecutive.")


def canonical_json(value: Any) -> str:
    """The serialisation that is hashed (the same as the evaluation evidence's)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for JSON output) from what :func:`open_package` returns."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# -- writing --------------------------------------------------------------------------------------
def build_package(manifest: dict[str, Any], pdf: bytes, evidence: dict[str, Any],
                  audit_rows: list[tuple]) -> tuple[bytes, str]:
    """The package's bytes and the manifest's SHA-256.

    ``manifest`` holds the descriptive fields (model, version, state, artifact_sha256,
    documentation, created_at, created_by, store); the format, the member hashes and the note on
    the audit extract are added here. ``audit_rows`` are full audit rows in ``core.audit.FIELDS``
    order, oldest first."""
    audit_text = "".join(json.dumps(dict(zip(FIELDS, row, strict=True)), ensure_ascii=False)
                         + "\n" for row in audit_rows)
    members = {PDF: pdf, EVIDENCE: canonical_json(evidence).encode(),
               AUDIT: audit_text.encode()}
    full = {**manifest, "format": PACKAGE_FORMAT,
            "members": {name: {"sha256": sha256(data), "size": len(data)}
                        for name, data in sorted(members.items())},
            "audit_extract": {"events": len(audit_rows), "note": AUDIT_NOTE}}
    manifest_bytes = (json.dumps(full, sort_keys=True, indent=2, ensure_ascii=False)
                      + "\n").encode()
    members[MANIFEST] = manifest_bytes
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, members[name])
    return buf.getvalue(), sha256(manifest_bytes)


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewPackage:
    """A verified package, read-only: mappings are ``MappingProxyType``, lists are tuples."""

    path: Path
    manifest: Mapping[str, Any]
    manifest_sha256: str
    pdf: bytes
    evidence: Mapping[str, Any]
    audit_events: tuple[Mapping[str, Any], ...]
    hashes_verified: int

    @property
    def model(self) -> str:
        return self.manifest["model"]

    @property
    def version(self) -> int:
        return self.manifest["version"]

    def summary(self) -> dict[str, Any]:
        """What a reviewer looks at first, as plain JSON-ready values."""
        evaluation = self.evidence.get("evaluation") or {}
        gates = (evaluation.get("evidence") or {}).get("gates") or {}
        return {
            "model": self.model, "version": self.version, "state": self.manifest["state"],
            "artifact_sha256": self.manifest["artifact_sha256"],
            "created_at": self.manifest["created_at"],
            "created_by": self.manifest["created_by"],
            "store": thaw(self.manifest.get("store")),
            "manifest_sha256": self.manifest_sha256,
            "gates": {"status": gates.get("status"),
                      "results": [{k: r.get(k) for k in ("label", "op", "threshold", "value",
                                                          "passed")}
                                  for r in gates.get("results") or ()]},
            "findings": thaw(self.evidence.get("findings") or ()),
            "signatures": thaw(self.evidence.get("signatures") or ()),
            "audit_events": len(self.audit_events),
            "hashes_verified": self.hashes_verified,
        }


def _bad(path: Path, what: str) -> InvalidInput:
    return InvalidInput(f"{path.name} is not a valid review package: {what}.",
                        hint="Ask for the package to be exported again; a package that fails "
                             "verification must not be reviewed.")


def _check_name(path: Path, name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or ".." in parts or len(parts) > 1 or ":" in name
            or "\x00" in name):
        raise _bad(path, f"member {name!r} has an unsafe name (a path outside the package)")
    if name not in MEMBERS:
        raise _bad(path, f"extra member {name!r} is not part of a review package")


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            seen: set[str] = set()
            for info in infos:
                _check_name(path, info.filename)
                if info.filename in seen:
                    raise _bad(path, f"member {info.filename!r} appears twice")
                seen.add(info.filename)
                if info.flag_bits & 0x1:
                    raise _bad(path, f"member {info.filename!r} is encrypted")
                if info.file_size > MAX_MEMBER_BYTES[info.filename]:
                    raise _bad(path, f"member {info.filename!r} is too large "
                                     f"({info.file_size:,} bytes)")
            missing = [n for n in MEMBERS if n not in seen]
            if missing:
                raise _bad(path, f"member {missing[0]!r} is missing")
            out = {}
            for info in infos:
                limit = MAX_MEMBER_BYTES[info.filename]
                with zf.open(info) as fh:
                    data = fh.read(limit + 1)  # a lying header cannot make us read more
                if len(data) > limit:
                    raise _bad(path, f"member {info.filename!r} is too large")
                out[info.filename] = data
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise _bad(path, f"the file is damaged or truncated ({err})") from None
    except OSError as err:
        raise InvalidInput(f"Cannot read {path}: {err.strerror or err}.") from None


def _json(path: Path, name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _bad(path, f"{name} is not valid JSON ({err})") from None


def _verify_audit(path: Path, data: bytes, expected: int) -> list[dict[str, Any]]:
    events = []
    prev: dict[str, Any] | None = None
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        try:
            ev = json.loads(line)
            row = [ev[f] for f in FIELDS]
        except (ValueError, KeyError, TypeError):
            raise _bad(path, f"{AUDIT} line {number} is not an audit event") from None
        if event_hash(row) != ev["hash"]:
            raise _bad(path, f"audit event #{ev['seq']} in {AUDIT} was altered: its content "
                             "no longer matches its hash")
        if prev is not None:
            if not isinstance(ev["seq"], int) or ev["seq"] <= prev["seq"]:
                raise _bad(path, f"audit event #{ev['seq']} in {AUDIT} is out of order")
            if ev["seq"] == prev["seq"] + 1 and ev["prev_hash"] != prev["hash"]:
                raise _bad(path, f"audit event #{ev['seq']} in {AUDIT} does not link to "
                                 f"event #{prev['seq']}")
        events.append(ev)
        prev = ev
    if len(events) != expected:
        raise _bad(path, f"{AUDIT} holds {len(events)} events; the manifest lists {expected}")
    return events


def open_package(path: Path) -> ReviewPackage:
    """Open and verify a review package with no store.

    Checks the member names (no paths, no extra or missing members), the sizes, every member's
    SHA-256 and size against the manifest, the evidence against its ``evidence_sha256``, and
    every audit event's hash (and links where consecutive). Raises InvalidInput naming the
    first problem found."""
    path = Path(path)
    members = _read_members(path)
    manifest = _json(path, MANIFEST, members[MANIFEST])
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        raise _bad(path, f"{MANIFEST} is not a {PACKAGE_FORMAT} manifest")
    listed = manifest.get("members")
    if not isinstance(listed, dict) or sorted(listed) != sorted(set(MEMBERS) - {MANIFEST}):
        raise _bad(path, f"{MANIFEST} does not list exactly the package's members")
    checked = 0
    for name, entry in sorted(listed.items()):
        data = members[name]
        if not isinstance(entry, dict) or entry.get("sha256") != sha256(data) \
                or entry.get("size") != len(data):
            raise _bad(path, f"{name} does not match its SHA-256 in the manifest (it was "
                             "changed after export)")
        checked += 1
    evidence = _json(path, EVIDENCE, members[EVIDENCE])
    evaluation = evidence.get("evaluation") if isinstance(evidence, dict) else None
    if evaluation is not None:
        try:
            recorded = evaluation["evidence_sha256"]
            actual = sha256(canonical_json(evaluation["evidence"]).encode())
        except (KeyError, TypeError, ValueError):
            raise _bad(path, f"{EVIDENCE} has no readable evaluation evidence") from None
        if actual != recorded:
            raise _bad(path, f"the evaluation evidence in {EVIDENCE} does not match its "
                             "evidence_sha256")
        checked += 1
    doc = manifest.get("documentation") or {}
    if doc.get("pdf_sha256") != listed[PDF]["sha256"]:
        raise _bad(path, f"{PDF} is not the documentation the manifest names")
    events = _verify_audit(path, members[AUDIT],
                           (manifest.get("audit_extract") or {}).get("events", -1))
    checked += len(events)
    return ReviewPackage(path=path, manifest=_freeze(manifest),
                         manifest_sha256=sha256(members[MANIFEST]), pdf=members[PDF],
                         evidence=_freeze(evidence), audit_events=_freeze(events),
                         hashes_verified=checked)


# -- responses ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewResponse:
    """A response file whose own hash was verified (nothing else about it yet)."""

    path: Path
    package_manifest_sha256: str
    model: str
    version: int
    reviewer: str
    comments: tuple[str, ...]
    sign: bool
    reason: str | None
    created_at: str
    sha256: str


def make_response(package: ReviewPackage, reviewer: str, comments: list[str], *,
                  sign_reason: str | None, created_at: str) -> dict[str, Any]:
    """The response document for ``package``: comments, and with ``sign_reason`` a request
    that the store apply the reviewer's compliance signature (meaning "reviewed") on import."""
    reviewer = reviewer.strip()
    if not reviewer:
        raise InvalidInput("Say who reviewed: --user NAME (your user name in the store).")
    comments = [c.strip() for c in comments if c and c.strip()]
    if not comments and sign_reason is None:
        raise InvalidInput("A response needs at least one comment or a signature request.")
    if sign_reason is not None and not sign_reason.strip():
        raise InvalidInput("A signature request needs a reason (--reason TEXT).")
    body = {"format": RESPONSE_FORMAT, "package_manifest_sha256": package.manifest_sha256,
            "model": package.model, "version": package.version, "reviewer": reviewer,
            "comments": comments, "created_at": created_at,
            "signature_request": None if sign_reason is None else
            {"meaning": "reviewed", "reason": sign_reason.strip()}}
    _check_response_body(Path("response"), body)
    return {**body, "sha256": sha256(canonical_json(body).encode())}


def write_response(response: dict[str, Any], dest: Path) -> None:
    write_atomically(Path(dest), (json.dumps(response, indent=2, ensure_ascii=False)
                                  + "\n").encode())


def _bad_response(path: Path, what: str) -> InvalidInput:
    return InvalidInput(f"{path.name} is not a valid review response: {what}.",
                        hint="Write the response again from the package (charter review "
                             "respond); a response must not be edited by hand.")


def _check_response_body(path: Path, body: dict[str, Any]) -> None:
    comments = body.get("comments")
    if not isinstance(comments, list) or not all(isinstance(c, str) for c in comments):
        raise _bad_response(path, "comments must be a list of texts")
    if len(comments) > MAX_COMMENTS or any(len(c) > MAX_COMMENT_CHARS for c in comments):
        raise _bad_response(path, f"at most {MAX_COMMENTS} comments of "
                                  f"{MAX_COMMENT_CHARS:,} characters each")
    request = body.get("signature_request")
    if request is not None and (not isinstance(request, dict)
                                or request.get("meaning") != "reviewed"
                                or not isinstance(request.get("reason"), str)):
        raise _bad_response(path, "the signature request must mean 'reviewed' and give a reason")
    for key, kind in (("package_manifest_sha256", str), ("model", str), ("version", int),
                      ("reviewer", str), ("created_at", str)):
        if not isinstance(body.get(key), kind):
            raise _bad_response(path, f"{key} is missing or of the wrong kind")


def read_response(path: Path) -> ReviewResponse:
    """Read a response file and verify its own SHA-256. Raises InvalidInput naming what is
    wrong (not a response, too large, edited after it was written)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_RESPONSE_BYTES + 1)
    except OSError as err:
        raise InvalidInput(f"Cannot read {path}: {err.strerror or err}.") from None
    if len(data) > MAX_RESPONSE_BYTES:
        raise _bad_response(path, "the file is too large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad_response(path, "it is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != RESPONSE_FORMAT:
        raise _bad_response(path, f"it is not a {RESPONSE_FORMAT} file")
    body = {k: v for k, v in doc.items() if k != "sha256"}
    _check_response_body(path, body)
    try:
        actual = sha256(canonical_json(body).encode())
    except ValueError:
        raise _bad_response(path, "it holds values JSON cannot hash") from None
    if doc.get("sha256") != actual:
        raise _bad_response(path, "its content does not match its SHA-256 (it was changed "
                                  "after it was written)")
    request = body["signature_request"]
    return ReviewResponse(path=path, package_manifest_sha256=body["package_manifest_sha256"],
                          model=body["model"], version=body["version"],
                          reviewer=body["reviewer"], comments=tuple(body["comments"]),
                          sign=request is not None,
                          reason=request["reason"] if request else None,
                          created_at=body["created_at"], sha256=actual)
