"""The model documentation PDF: a first draft in the shape SR 11-7 / OCC 2011-12 expects.

Built with reportlab's platypus from the inventory record, the registered version, one recorded
evaluation (the evidence record) and the texts, findings and sign-offs people wrote. Charts come
from :mod:`core.reports.charts` (the same Figures the evaluation screen shows). Every page
carries the model, version, the full artifact SHA-256, the generation time in UTC and
"Page x of y". The same input and ``generated_at`` give byte-identical output.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.entities_registry import REQUIRED_FIELDS, Model, ModelVersion
from core.reports import doc_analysis, doc_evidence
from core.reports.formatting import fmt_number, shorten
from core.reports.pdf_kit import FAIL, FONT, Story, esc, fmt_time, kv_table, p, styles, table
from core.reports.pdf_layout import PageMarks, build, doc_template, numbered_canvas

EVALUATE_HINT = doc_evidence.EVALUATE_HINT
SIGNOFF_ROLES = ("model owner", "validator", "compliance officer", "approving manager")
_ROLE_ALIASES = {
    "model owner": {"model owner", "owner", "model_owner", "data scientist", "data_scientist",
                    "business owner"},
    "validator": {"validator", "model validator", "model risk"},
    "compliance officer": {"compliance officer", "compliance", "compliance_officer"},
    "approving manager": {"approving manager", "manager", "approver", "approving_manager"},
}
HYPERPARAMETER_VALUE_LIMIT = 160


@dataclass(frozen=True)
class DocumentationInput:
    """Everything one documentation PDF is made from.

    ``evidence`` is a "charter-evaluation/1" record (None: no evaluation yet) and
    ``evidence_sha256`` its recorded hash. ``limitations`` and ``monitoring_plan`` are the model
    owner's texts ("" prints a NOT YET WRITTEN marker). ``findings`` are
    ``{"id", "severity", "title", "status", "text"}`` and ``signoffs``
    ``{"role", "name", "decision", "at"}`` (``at`` a datetime or ISO text).
    """

    model: Model
    version: ModelVersion
    evidence: dict | None
    evidence_sha256: str | None
    limitations: str
    monitoring_plan: str
    findings: list[dict]
    signoffs: list[dict]
    generated_by: str
    charter_version: str


def render_documentation(doc: DocumentationInput, generated_at: datetime) -> bytes:
    """The documentation PDF's bytes (A4).

    ``generated_at`` (UTC; a naive datetime is taken as UTC) is printed on every page and is the
    PDF's creation date; nothing else varies, so the same input and time give identical bytes.
    Raises nothing for missing or partial evidence: sections say what was not recorded. Writes
    no audit events (the documentation service records the PDF and its hash).
    """
    from reportlab.platypus import PageBreak

    s = styles()
    charts = _charts(doc.evidence)
    story = Story(s)
    _title_page(story, doc, generated_at)
    story.add(PageBreak())
    _purpose(story, doc)
    _data(story, doc)
    _methodology(story, doc)
    doc_evidence.performance(story, doc.evidence, doc.version, charts)
    doc_analysis.explanations(story, doc.evidence, charts)
    doc_analysis.fairness(story, doc.evidence, charts)
    _owner_text(story, "7 Limitations and assumptions", doc.limitations,
                "the model's known limitations and the assumptions it rests on: where it must "
                "not be used, the data it has not seen, weak segments (section 4) and what "
                "happens when inputs drift")
    _owner_text(story, "8 Ongoing monitoring plan", doc.monitoring_plan,
                "what is monitored after deployment (drift, performance against outcomes, "
                "fairness, latency), how often, the thresholds that raise an alert, and who "
                "acts on one")
    _findings(story, doc.findings)
    _signoffs(story, doc.signoffs)
    doc_analysis.appendices(story, doc.evidence, doc.evidence_sha256, charts)

    version = doc.version
    title = f"{doc.model.name} · version {version.number}" + (
        f" ({version.label})" if version.label else "")
    marks = PageMarks(
        title=title, right="Model documentation – " + ("APPROVED" if _approval(doc.signoffs)
                                                      else "DRAFT"),
        artifact_sha256=version.artifact_sha256,
        footer=f"Generated {fmt_time(generated_at)} by {doc.generated_by} · Charter "
               f"{doc.charter_version} · evidence SHA-256 "
               + (f"{doc.evidence_sha256[:12]}…" if doc.evidence_sha256
                  else "none (no evaluation recorded)"))
    meta = {"title": f"Model documentation: {title}", "author": doc.generated_by,
            "subject": "Model documentation (SR 11-7) - draft generated from recorded evidence",
            "creator": f"Charter {doc.charter_version}",
            "keywords": f"artifact-sha256:{version.artifact_sha256}"}
    buffer = io.BytesIO()
    template = doc_template(buffer, meta)
    build(template, story.items, numbered_canvas(marks, generated_at), buffer)
    return buffer.getvalue()


def _charts(evidence: dict | None) -> dict[str, tuple[str, bytes, tuple[float, float]]]:
    """key -> (title, PNG, figure size in inches) for every chart of the record, in order."""
    if not evidence:
        return {}
    from core.reports.charts import charts_for, figure_png

    out = {}
    for key, title, fig in charts_for(evidence):
        width, height = fig.get_size_inches()
        out[key] = (title, figure_png(fig), (float(width), float(height)))
    return out


def _missing(s: dict, text: str = "NOT RECORDED") -> Any:
    return p(f'<font color="{FAIL}"><b>{esc(text)}</b></font>', s["cell"])


def _value(s: dict, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return _missing(s)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _title_page(story: Story, doc: DocumentationInput, generated_at: datetime) -> None:
    from reportlab.platypus import PageBreak
    from reportlab.platypus.tableofcontents import TableOfContents

    s, model, version, ev = story.s, doc.model, doc.version, doc.evidence
    story.space(30)
    story.markup("Model documentation", "title")
    story.markup(esc(model.name), "subtitle")
    story.markup(f"Version {version.number}" + (f" · {esc(version.label)}" if version.label
                                                 else ""), "h2")
    approval = _approval(doc.signoffs)
    if approval is not None:
        story.marker(f"APPROVED for use by {esc(str(approval.get('name', '')))} on "
                     f"{fmt_time(approval.get('at'))} (section 10). Generated from recorded "
                     "evidence; every figure below is read from the records named on this page.")
    else:
        story.marker("DRAFT – generated from recorded evidence. It becomes the model's "
                     "documentation only when sections 7 to 10 are complete and signed; every "
                     "figure below is read from the records named on this page.")
    tier = model.risk_tier
    gates = (ev or {}).get("gates") or {}
    rows = [
        ("Model", model.name),
        ("Version", f"{version.number}" + (f" – {version.label}" if version.label else "")),
        ("Risk tier", f"Tier {tier} (1 = highest)" if tier is not None else _missing(s)),
        ("Inventory status", model.status),
        ("Version state", version.state),
        ("Model type", _value(s, _model_type(doc))),
        ("Artifact", f"{version.artifact_format}, {fmt_number(version.artifact_size)} bytes"),
        ("Artifact SHA-256", p(esc(version.artifact_sha256), s["hash"])),
        ("Evidence SHA-256", p(esc(doc.evidence_sha256), s["hash"]) if doc.evidence_sha256
         else _missing(s, "none – no evaluation recorded")),
        ("Evaluation recorded", fmt_time(ev.get("created_at")) if ev else _missing(s, "no")),
        ("Acceptance gates", doc_evidence.gate_verdict(s, gates) if ev else _missing(s, "not run")),
        ("Generated", fmt_time(generated_at)),
        ("Generated by", doc.generated_by),
        ("Charter version", doc.charter_version),
    ]
    story.add(kv_table(rows, s, key_width=0.26))
    story.add(PageBreak())
    story.markup("Contents", "h1")
    toc = TableOfContents(levelStyles=[s["toc0"], s["toc1"]], dotsMinLevel=0, tableStyle=[
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)])
    story.add(toc)


def _model_type(doc: DocumentationInput) -> str | None:
    described = doc.version.description if isinstance(doc.version.description, dict) else {}
    recorded = ((doc.evidence or {}).get("model") or {}).get("model_type")
    return recorded or described.get("model_type")


def _purpose(story: Story, doc: DocumentationInput) -> None:
    s, m, v = story.s, doc.model, doc.version
    story.heading("1 Purpose and intended use")
    story.text("The model's inventory record, as its owner registered it. Empty fields are "
               "marked; an examiner expects every one of them filled in.", "small")
    story.heading("1.1 Inventory record", 1)
    fields = dict(REQUIRED_FIELDS)
    rows = []
    for key, label in fields.items():
        if key == "vendor_name" and m.source != "vendor":
            continue
        value = getattr(m, key)
        if key == "risk_tier" and value is not None:
            value = f"Tier {value} (1 = highest)"
        rows.append((label, _value(s, value)))
    rows += [("Source", "vendor" if m.source == "vendor" else "in-house"),
             ("Inventory status", m.status),
             ("Registered", f"{fmt_time(m.created_at)} by {m.created_by}")]
    story.add(kv_table(rows, s))
    gaps = m.missing_fields()
    if gaps:
        story.marker("Inventory incomplete – not yet recorded: " + esc(", ".join(gaps)) + ".")
    else:
        story.text("Every required inventory field is recorded.", "small")
    story.heading("1.2 This version", 1)
    story.add(kv_table([
        ("Version", f"{v.number}" + (f" – {v.label}" if v.label else "")),
        ("State", v.state), ("Author", v.author), ("Registered", fmt_time(v.created_at)),
        ("Metrics reported by the developer", ", ".join(
            f"{k} {fmt_number(x)}" for k, x in sorted((v.metrics or {}).items()))
         if isinstance(v.metrics, dict) and v.metrics else "none"),
    ], s))


def _data(story: Story, doc: DocumentationInput) -> None:
    s, v, ev = story.s, doc.version, doc.evidence
    story.heading("2 Data and lineage")
    story.heading("2.1 Datasets attached to this version", 1)
    if v.datasets:
        rows = [["Role", "Name", "Rows", "Format", "SHA-256"]]
        rows += [[d.role or "", d.name, fmt_number(d.rows), d.format,
                  p(esc(d.sha256), s["hash"])] for d in v.datasets]
        story.add(table(rows, [0.11, 0.25, 0.1, 0.09, 0.45], s, numeric=(2,)))
    else:
        story.marker("No datasets are attached to this version: training, reference and "
                     "holdout data are not traceable from this record.")
    story.heading("2.2 Holdout used for the evaluation", 1)
    if ev:
        hold = ev.get("holdout") or {}
        attached = next((d for d in v.datasets if d.sha256 == hold.get("sha256")), None)
        nulls = hold.get("missing_values") or {}
        features = [str(f) for f in hold.get("features") or []]
        story.add(kv_table([
            ("Name", _value(s, hold.get("name"))),
            ("SHA-256", p(esc(hold.get("sha256")), s["hash"]) if hold.get("sha256")
             else _missing(s)),
            ("Rows", fmt_number(hold.get("rows"))), ("Target", _value(s, hold.get("target"))),
            ("Model inputs", f"{len(features)}: " + shorten(", ".join(features), 600)),
            ("Missing values in inputs", ", ".join(f"{k} ({fmt_number(n)})" for k, n in
                                                   nulls.items()) or "none"),
            ("Attached to this version", f"yes, as its {attached.role or 'dataset'} dataset"
             if attached else _missing(s, "no – the holdout is not one of the version's "
                                        "datasets")),
        ], s))
    else:
        doc_evidence.no_evidence(story)
    story.heading("2.3 Lineage", 1)
    story.add(kv_table([
        ("Training dataset SHA-256", p(esc(v.training_dataset_sha256), s["hash"])
         if v.training_dataset_sha256 else _missing(s)),
        ("Code reference", _value(s, v.code_reference)),
        ("Artifact SHA-256", p(esc(v.artifact_sha256), s["hash"])),
        ("Imported by", f"{v.author} on {fmt_time(v.created_at)}"),
    ], s))
    story.heading("2.4 Library versions", 1)
    recorded = v.library_versions if isinstance(v.library_versions, dict) else {}
    used = (ev or {}).get("library_versions") or {}
    names = sorted(set(recorded) | set(used), key=str.lower)
    if names:
        rows = [["Library", "Recorded with the artifact", "Used for the evaluation"]]
        rows += [[n, recorded.get(n, "–"), used.get(n, "–")] for n in names]
        story.add(table(rows, [0.34, 0.33, 0.33], s))
    else:
        story.marker("No library versions recorded.")
    story.heading("2.5 Input schema", 1)
    schema = v.input_schema if isinstance(v.input_schema, list) else []
    if schema:
        rows = [["#", "Input", "Kind", "Categories"]]
        for i, f in enumerate(schema, start=1):
            f = f if isinstance(f, dict) else {"name": str(f)}
            cats = f.get("categories")
            shown = "" if cats is None else ", ".join(map(str, cats[:12])) + (
                f" … (+{len(cats) - 12} more)" if len(cats) > 12 else "")
            rows.append([str(i), f.get("name", ""), f.get("kind", ""), shown])
        story.add(table(rows, [0.06, 0.3, 0.12, 0.52], s, numeric=(0,)))
        story.text(f"{len(schema)} inputs, in the order the model takes them.", "small")
    else:
        story.marker("No input schema recorded for this artifact.")


def _methodology(story: Story, doc: DocumentationInput) -> None:
    s, m, v, ev = story.s, doc.model, doc.version, doc.evidence
    description = v.description if isinstance(v.description, dict) else {}
    story.heading("3 Methodology")
    classes = ((ev or {}).get("metrics") or {}).get("classes") or description.get("classes")
    story.add(kv_table([
        ("Model type", _value(s, _model_type(doc))),
        ("Task", _value(s, (ev or {}).get("task") or description.get("task"))),
        ("Kind", _value(s, (ev or {}).get("kind"))),
        ("Classes", ", ".join(map(str, classes)) if classes else "–"),
        ("Artifact format", _value(s, v.artifact_format)),
        ("Methodology (inventory)", _value(s, m.methodology)),
    ], s))
    notes = description.get("warnings") or []
    if notes:
        story.markup("<b>Notes recorded when the artifact was imported</b>", "body")
        for n in notes:
            story.markup("• " + esc(n), "body")
    story.heading("3.1 Hyperparameters", 1)
    params = v.hyperparameters if isinstance(v.hyperparameters, dict) else {}
    if params:
        rows = [["Parameter", "Value"]]
        rows += [[k, shorten(_param(val), HYPERPARAMETER_VALUE_LIMIT)]
                 for k, val in sorted(params.items())]
        story.add(table(rows, [0.38, 0.62], s))
        story.text(f"{len(params)} hyperparameters as recorded from the artifact; values longer "
                   f"than {HYPERPARAMETER_VALUE_LIMIT} characters are shortened (…).", "small")
    else:
        story.marker(f"No hyperparameters recorded (the {esc(v.artifact_format)} artifact does "
                     "not expose them); the developer should describe the model's settings.")


def _param(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _owner_text(story: Story, heading: str, text: str, what: str) -> None:
    story.heading(heading)
    if text and text.strip():
        story.text(text)
    else:
        story.marker(f"NOT YET WRITTEN – the model owner must describe {esc(what)}.")


def _findings(story: Story, findings: list[dict]) -> None:
    s = story.s
    story.heading("9 Validation findings")
    if not findings:
        story.text("No validation findings recorded.")
        return
    open_ = sum(1 for f in findings if str(f.get("status", "")).lower() not in
                ("closed", "resolved", "accepted"))
    story.text(f"{len(findings)} finding(s) recorded; {open_} not closed.")
    rows = [["ID", "Severity", "Status", "Finding"]]
    for f in findings:
        body = f"<b>{esc(f.get('title'))}</b>"
        if f.get("text"):
            body += "<br/>" + esc(f.get("text"))
        rows.append([f.get("id", ""), f.get("severity", ""), f.get("status", ""),
                     p(body, s["cell"])])
    story.add(table(rows, [0.08, 0.11, 0.12, 0.69], s))


def _approval(signoffs: list[dict] | None) -> dict | None:
    """The newest sign-off approving the version, if any (the document is then no draft)."""
    approved = [x for x in signoffs or () if str(x.get("decision", "")).lower() == "approved"]
    return approved[-1] if approved else None


def _signoffs(story: Story, signoffs: list[dict]) -> None:
    from reportlab.lib import colors

    s = story.s
    mark = story.mark()
    story.heading("10 Sign-off")
    story.text("Sign-offs recorded in Charter are listed with their time; Charter binds each "
               "to the artifact SHA-256 printed on every page. Empty lines are for the roles "
               "that have not yet signed.")
    rows = [["Role", "Name", "Decision", "Date (UTC)", "Signature"]]
    remaining = list(signoffs or [])
    for role in SIGNOFF_ROLES:
        mine = [x for x in remaining
                if str(x.get("role", "")).strip().lower() in _ROLE_ALIASES[role]]
        for x in mine:
            remaining.remove(x)
            rows.append([role.capitalize(), x.get("name", ""), x.get("decision", ""),
                         fmt_time(x.get("at")), "recorded in Charter"])
        if not mine:
            rows.append([role.capitalize(), "", "", "", ""])
    for x in remaining:
        rows.append([str(x.get("role", "")), x.get("name", ""), x.get("decision", ""),
                     fmt_time(x.get("at")), "recorded in Charter"])
    blank = [("LINEBELOW", (1, r), (-1, r), 0.6, colors.HexColor("#6B6B6B"))
             for r, row in enumerate(rows) if r and not row[1]]
    heights = [None] + [28 if not row[1] else None for row in rows[1:]]
    # Empty rows are tall: room to sign on a printed copy.
    story.add(table(rows, [0.2, 0.22, 0.18, 0.2, 0.2], s, zebra=False, extra=blank,
                    row_heights=heights))
    story.keep(mark)
