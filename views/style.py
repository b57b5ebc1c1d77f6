"""Style sheet and icons from the ``resources`` package (importlib.resources, frozen-safe)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer


@cache
def stylesheet() -> str:
    """The style sheet, with ``@ICONS@`` replaced by the icons folder (for arrows and checks)."""
    text = resources.files("resources.style").joinpath("charter.qss").read_text(encoding="utf-8")
    folder = resources.files("resources.icons")
    return text.replace("@ICONS@", Path(str(folder)).as_posix())


@cache
def _svg(name: str) -> bytes:
    return resources.files("resources.icons").joinpath(f"{name}.svg").read_bytes()


INK = "#34506f"  # the stroke colour the icons are drawn in
ON_DARK = "#e6edf5"


def _pixmaps(name: str, color: str, icon_: QIcon, mode: QIcon.Mode) -> None:
    renderer = QSvgRenderer(_svg(name).replace(INK.encode(), color.encode()))
    for size in (16, 20, 24, 32, 40, 48, 64, 96):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        icon_.addPixmap(pixmap, mode)


def icon(name: str, color: str = INK, *, selected_color: str | None = None) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` drawn in ``color`` (and ``selected_color``
    when its item is selected); read from bytes, so no real file is needed."""
    result = QIcon()
    _pixmaps(name, color, result, QIcon.Mode.Normal)
    if selected_color:
        _pixmaps(name, selected_color, result, QIcon.Mode.Selected)
    return result


def icon_names() -> list[str]:
    folder = resources.files("resources.icons")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".svg"))
