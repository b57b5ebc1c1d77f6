"""The reportlab pieces the documentation PDF is built from: fonts, styles, escaping, tables,
charts, and :class:`Story`, the list of flowables being assembled (pages: ``pdf_layout``).

Every string that did not come from this code (model names, owner-written texts, column names,
segment labels, finding texts) goes through :func:`esc` before it reaches a ``Paragraph``:
reportlab parses paragraph text as markup, so ``<font size=40>`` in a model's purpose would
otherwise change the document or break rendering. reportlab is imported inside functions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from core.reports.formatting import shorten

FONT = "CharterSans"
FONT_BOLD = "CharterSans-Bold"
FONT_ITALIC = "CharterSans-Oblique"
FONT_BOLD_ITALIC = "CharterSans-BoldOblique"
_FONT_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf",
               FONT_ITALIC: "DejaVuSans-Oblique.ttf",
               FONT_BOLD_ITALIC: "DejaVuSans-BoldOblique.ttf"}

INK = "#1F1F1F"
MUTED = "#5E5E5E"
RULE = "#9A9A9A"
HEAD_FILL = "#E6EDF3"
STRIPE = "#F6F8FA"
PASS = "#007A5A"  # darker Okabe-Ito green, readable as text
FAIL = "#C14F00"  # darker vermillion
MARK_FILL = "#FFF3D6"
MARK_EDGE = "#E69F00"

# A4 with 50 pt side margins; the frame width is what tables and charts fit into.
PAGE_MARGIN_X = 50.0
PAGE_MARGIN_TOP = 62.0
PAGE_MARGIN_BOTTOM = 66.0
FRAME_WIDTH = 595.2756 - 2 * PAGE_MARGIN_X

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def esc(value: Any, limit: int | None = None) -> str:
    """User text as reportlab paragraph markup that shows it literally.

    ``&``, ``<`` and ``>`` are escaped, control characters dropped, and line breaks kept as
    ``<br/>``. ``limit`` shortens the text (with an ellipsis) before escaping.
    """
    text = "" if value is None else str(value)
    if limit:
        text = shorten(text, limit)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return escape(text).replace("\n", "<br/>")


def register_fonts() -> None:
    """Register DejaVu Sans (from ``resources/fonts``) as the CharterSans family, once."""
    from importlib import resources

    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = resources.files("resources.fonts")
    for name, filename in _FONT_FILES.items():
        data = folder.joinpath(filename).read_bytes()  # works from a zip or frozen build too
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    for bold, italic, name in ((0, 0, FONT), (1, 0, FONT_BOLD), (0, 1, FONT_ITALIC),
                               (1, 1, FONT_BOLD_ITALIC)):
        addMapping(FONT, bold, italic, name)


def styles() -> dict[str, Any]:
    """Paragraph styles by short name: body, small, h1, h2, h3, cell, cellb, title, ..."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    register_fonts()
    ink = colors.HexColor(INK)
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12.5, textColor=ink,
                          spaceAfter=5)
    s = {"body": base}
    s["small"] = ParagraphStyle("small", parent=base, fontSize=7.5, leading=10,
                                textColor=colors.HexColor(MUTED))
    s["h1"] = ParagraphStyle("h1", parent=base, fontName=FONT_BOLD, fontSize=14, leading=18,
                             spaceBefore=4, spaceAfter=8, keepWithNext=1)
    s["h2"] = ParagraphStyle("h2", parent=base, fontName=FONT_BOLD, fontSize=11, leading=14,
                             spaceBefore=10, spaceAfter=5, keepWithNext=1)
    s["h3"] = ParagraphStyle("h3", parent=base, fontName=FONT_BOLD, fontSize=9.5, leading=12.5,
                             spaceBefore=8, spaceAfter=4, keepWithNext=1)
    s["cell"] = ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5, spaceAfter=0)
    s["cellb"] = ParagraphStyle("cellb", parent=s["cell"], fontName=FONT_BOLD)
    s["cellr"] = ParagraphStyle("cellr", parent=s["cell"], alignment=TA_RIGHT)
    s["cellbr"] = ParagraphStyle("cellbr", parent=s["cellb"], alignment=TA_RIGHT)
    s["hash"] = ParagraphStyle("hash", parent=s["cell"], fontSize=7, leading=9)
    s["caption"] = ParagraphStyle("caption", parent=base, fontName=FONT_BOLD, fontSize=8.5,
                                  leading=11, spaceBefore=6, spaceAfter=2, keepWithNext=1)
    s["title"] = ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=24,
                                leading=30, spaceAfter=4)
    s["subtitle"] = ParagraphStyle("subtitle", parent=base, fontSize=14, leading=19,
                                   spaceAfter=14, textColor=colors.HexColor(MUTED))
    s["marker"] = ParagraphStyle("marker", parent=base, fontName=FONT_BOLD,
                                 textColor=colors.HexColor(FAIL),
                                 backColor=colors.HexColor(MARK_FILL),
                                 borderColor=colors.HexColor(MARK_EDGE), borderWidth=0.8,
                                 borderPadding=5, spaceBefore=6, spaceAfter=10)
    s["toc0"] = ParagraphStyle("toc0", parent=base, fontSize=9.5, leading=14, leftIndent=0)
    s["toc1"] = ParagraphStyle("toc1", parent=base, fontSize=8.5, leading=11.5, leftIndent=16,
                               textColor=colors.HexColor(MUTED))
    return s


def p(markup: str, style: Any) -> Any:
    """A Paragraph of trusted markup (user text inside it must already be :func:`esc`'d)."""
    from reportlab.platypus import Paragraph

    return Paragraph(markup, style)


def marker(text: str, s: dict) -> Any:
    """A visible boxed notice for something missing (NOT YET WRITTEN, not assessed...)."""
    return p(text, s["marker"])


def table(rows: Sequence[Sequence[Any]], widths: Sequence[float], s: dict, *,
          header: bool = True, numeric: Sequence[int] = (), zebra: bool = True,
          extra: Sequence[tuple] = (), row_heights: Sequence[float | None] | None = None) -> Any:
    """A table that splits across pages and repeats its header row.

    Plain values are escaped into Paragraph cells (so long text wraps); flowables pass through.
    ``numeric`` column indexes are right-aligned. ``widths`` are fractions of the frame width
    when they sum to <= 1, else points.
    """
    from reportlab.lib import colors
    from reportlab.platypus import Flowable, Table, TableStyle

    def cell(value: Any, r: int, c: int) -> Any:
        if isinstance(value, Flowable):
            return value
        if header and r == 0:
            style = s["cellbr"] if c in numeric else s["cellb"]
        else:
            style = s["cellr"] if c in numeric else s["cell"]
        return p(esc(value), style)

    data = [[cell(v, r, c) for c, v in enumerate(row)] for r, row in enumerate(rows)]
    if sum(widths) <= 1.001:
        widths = [w * FRAME_WIDTH for w in widths]
    t = Table(data, colWidths=list(widths), rowHeights=row_heights,
              repeatRows=1 if header else 0, hAlign="LEFT")
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),  # else the table sets Helvetica (Latin-1 only)
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#D0D0D0")),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(HEAD_FILL)),
                     ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor(RULE))]
    if zebra:
        first = 1 if header else 0
        commands += [("ROWBACKGROUNDS", (0, first), (-1, -1),
                      [colors.white, colors.HexColor(STRIPE)])]
    t.setStyle(TableStyle(commands + list(extra)))
    return t


def kv_table(pairs: Sequence[tuple[str, Any]], s: dict, key_width: float = 0.3) -> Any:
    """Two-column label/value table (no header); values may be flowables (markers)."""
    return table([[p(esc(k), s["cellb"]), v] for k, v in pairs], [key_width, 1 - key_width], s,
                 header=False)


def chart(png: bytes, width_in: float, height_in: float, max_width: float) -> Any:
    """A chart image at its natural size (figure inches x 72), shrunk only to fit the frame."""
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Flowable

    class _Chart(Flowable):
        def __init__(self) -> None:
            super().__init__()
            scale = min(1.0, max_width / (width_in * 72))
            self.width, self.height = width_in * 72 * scale, height_in * 72 * scale
            self.hAlign = "CENTER"

        def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
            return self.width, self.height

        def draw(self) -> None:
            if not getattr(self.canv, "draw_images", True):
                return  # a layout pass (see build): only the size matters
            self.canv.drawImage(ImageReader(io.BytesIO(png)), 0, 0, self.width, self.height)

    return _Chart()


def fmt_time(value: Any) -> str:
    """A datetime (or ISO text) as ``YYYY-MM-DD HH:MM:SS UTC``; other text unchanged."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


class Story:
    """The flowables of a document being assembled, with helpers that escape user text."""

    def __init__(self, s: dict) -> None:
        self.s = s
        self.items: list[Any] = []
        self._headings = 0

    def heading(self, text: str, level: int = 0) -> None:
        """A numbered heading (text is escaped); levels 0-1 go to the contents, 0-2 to the
        PDF outline."""
        para = p(esc(text), self.s[("h1", "h2", "h3")[level]])
        self._headings += 1
        para._bookmark = f"h{self._headings}"
        para._toc_level = level
        self.items.append(para)

    def text(self, value: Any, style: str = "body") -> None:
        """User or computed text, escaped; blank lines start new paragraphs."""
        for block in re.split(r"\n\s*\n", str(value).strip()):
            self.items.append(p(esc(block), self.s[style]))

    def markup(self, markup: str, style: str = "body") -> None:
        self.items.append(p(markup, self.s[style]))

    def marker(self, markup: str) -> None:
        self.items.append(marker(markup, self.s))

    def add(self, *flowables: Any) -> None:
        self.items.extend(flowables)

    def space(self, points: float = 6) -> None:
        from reportlab.platypus import Spacer

        self.items.append(Spacer(1, points))

    def chart(self, png: bytes, size: tuple[float, float]) -> None:
        """A chart image (its title is drawn in the image), with a little space after it."""
        from reportlab.platypus import Spacer

        self.items += [chart(png, size[0], size[1], FRAME_WIDTH), Spacer(1, 8)]

    def mark(self) -> int:
        return len(self.items)

    def keep(self, mark: int) -> None:
        """Keep everything added since ``mark`` on one page (a new page if it does not fit
        the rest of this one; split as usual if it is longer than a page)."""
        from reportlab.platypus import KeepTogether

        while mark > 0 and hasattr(self.items[mark - 1], "_toc_level"):
            mark -= 1  # a heading right before the group goes with it
        group = self.items[mark:]
        if group:
            self.items[mark:] = [KeepTogether(group)]
