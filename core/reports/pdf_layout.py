"""The pages of the documentation PDF: the template, the canvas that numbers pages and prints
the model's identity on each, and the build that settles the table of contents first.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.reports.pdf_kit import (
    FONT,
    FONT_BOLD,
    INK,
    MUTED,
    PAGE_MARGIN_BOTTOM,
    PAGE_MARGIN_TOP,
    PAGE_MARGIN_X,
    RULE,
    esc,
)


@dataclass(frozen=True)
class PageMarks:
    """What every page carries, drawn in the second pass when the page count is known."""

    title: str  # model name, version, label
    right: str  # "Model documentation - DRAFT"
    artifact_sha256: str
    footer: str  # generation time, by whom, Charter version


def numbered_canvas(marks: PageMarks, created: datetime) -> type:
    """A Canvas class that defers page output until the end, then draws header, footer and
    "Page x of y" on each page (the NumberedCanvas pattern), and dates the PDF ``created``."""
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as rl_canvas

    def fit(text: str, font: str, size: float, width: float) -> str:
        while text and stringWidth(text, font, size) > width:
            text = text[:-2] + "…"
        return text

    class NumberedCanvas(rl_canvas.Canvas):
        draw_images = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []
            _date_document(self, created)

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            width, height = self._pagesize
            left, right = PAGE_MARGIN_X, width - PAGE_MARGIN_X
            self.saveState()
            self.setStrokeColor(colors.HexColor(RULE))
            self.setLineWidth(0.5)
            self.setFillColor(colors.HexColor(INK))
            top = height - 34
            self.setFont(FONT, 7.5)
            right_w = stringWidth(marks.right, FONT, 7.5)
            self.drawRightString(right, top, marks.right)
            self.setFont(FONT_BOLD, 8)
            self.drawString(left, top, fit(marks.title, FONT_BOLD, 8, right - left - right_w - 12))
            self.line(left, top - 5, right, top - 5)
            self.line(left, 50, right, 50)
            page = f"Page {number} of {total}"
            self.setFont(FONT_BOLD, 8)
            self.drawRightString(right, 39, page)
            page_w = stringWidth(page, FONT_BOLD, 8)
            self.setFont(FONT, 6.5)
            self.drawString(left, 39, fit(f"Artifact SHA-256 {marks.artifact_sha256}", FONT, 6.5,
                                          right - left - page_w - 8))
            self.setFillColor(colors.HexColor(MUTED))
            self.drawString(left, 29, fit(marks.footer, FONT, 6.5, right - left))
            self.restoreState()

    return NumberedCanvas


def _date_document(canv: Any, created: datetime) -> None:
    """Give the PDF's creation date the generation time (invariant mode would say 2000-01-01).

    Uses reportlab internals; if they change, the invariant date is kept rather than failing.
    """
    from reportlab.lib.utils import TimeStamp

    stamp = TimeStamp(invariant=1)
    when = created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)
    stamp.t = when.timestamp()
    stamp.lt = when.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    doc = getattr(canv, "_doc", None)
    if doc is not None and hasattr(doc, "_timeStamp"):
        doc._timeStamp = stamp


def doc_template(buffer: io.BytesIO, meta: dict[str, str]) -> Any:
    """A BaseDocTemplate on A4 with one frame and invariant output; headings made by
    :class:`Story` become table-of-contents entries and PDF bookmarks."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    class DocumentationTemplate(BaseDocTemplate):
        indexing: list = []  # the table of contents; set by build()

        def afterFlowable(self, flowable: Any) -> None:  # noqa: N802 (reportlab's name)
            key = getattr(flowable, "_bookmark", None)
            if key is None:
                return
            toc_level = flowable._toc_level
            # The PDF outline cannot skip a level (a sub-sub-heading right after a heading).
            level = min(toc_level, getattr(self.canv, "_outline_level", -1) + 1)
            self.canv._outline_level = level
            text = flowable.getPlainText()
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
            if toc_level <= 1:
                # The table of contents parses its entries as markup: escape again.
                for f in self.indexing:
                    f.notify("TOCEntry", (toc_level, esc(text), self.page, key))

    doc = DocumentationTemplate(
        buffer, pagesize=A4, leftMargin=PAGE_MARGIN_X, rightMargin=PAGE_MARGIN_X,
        topMargin=PAGE_MARGIN_TOP, bottomMargin=PAGE_MARGIN_BOTTOM, invariant=1,
        pageCompression=1, title=meta.get("title", ""), author=meta.get("author", ""),
        subject=meta.get("subject", ""), creator=meta.get("creator", ""),
        keywords=meta.get("keywords", ""), lang="en", initialFontName=FONT, initialFontSize=9)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    return doc


def build(template: Any, items: list, canvas_class: type, out: io.BytesIO,
          max_passes: int = 6) -> None:
    """Lay the story out until the table of contents' page numbers settle, then render once.

    reportlab's ``multiBuild`` draws every pass in full; here the layout passes skip chart
    images and output (chart sizes are fixed, so the layout is the same) and only the final
    pass draws and saves, which halves the time of a document with many charts.
    """
    indexing = [f for f in items if f.isIndexing()]
    template.indexing = indexing

    class LayoutCanvas(canvas_class):
        draw_images = False

        def save(self) -> None:
            pass

    # reportlab marks a flowable that did not fit as postponed (twice is a LayoutError) and
    # un-marks it between passes through this hook, as its own multiBuild does.
    edits: list[tuple] = []
    template._multiBuildEdits = edits.append

    def run(canvasmaker: type, target: io.BytesIO) -> None:
        template.build(items[:], filename=target, canvasmaker=canvasmaker)
        while edits:
            action, *args = edits.pop(0)
            action(*args)

    for _ in range(max_passes):
        for f in indexing:
            f.beforeBuild()
        run(LayoutCanvas, io.BytesIO())
        for f in indexing:
            f.afterBuild()
        if all(f.isSatisfied() for f in indexing):
            break
    run(canvas_class, out)
