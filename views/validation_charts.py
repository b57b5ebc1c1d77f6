"""The Charts tab: the figures ``core.reports.charts`` draws for an evaluation (the same ones the
documentation PDF prints), embedded with matplotlib's Qt canvas.

matplotlib is imported only when the tab is first shown, never at start-up. The Figures are
built on the task thread (plain matplotlib objects, no pyplot, no canvas) and put on canvases on
the GUI thread; a list on the left picks the chart, which is drawn at a readable size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities_validation import Evaluation
from views.style import icon
from views.task import run_call
from views.widgets import plain_label

MAX_SCALE = 1.6  # beyond this a chart's 8-point text looks lost in the plot
MIN_SCALE = 0.8  # below this the scroll area scrolls instead of shrinking the chart


def build_charts(evidence: dict) -> list[tuple[str, str, Any]]:
    """(key, title, Figure) for every chart of a record (runs on the task thread)."""
    from core.reports.charts import charts_for

    return charts_for(evidence)


def canvas_for(figure: Any) -> QWidget:
    """A Qt canvas showing ``figure`` (GUI thread)."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    canvas = FigureCanvasQTAgg(figure)
    canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return canvas


class ChartHolder(QWidget):
    """Shows one canvas at the figure's own proportions (as the PDF prints it), as large as
    the space allows up to MAX_SCALE, centred at the top; a stretched chart misleads."""

    def __init__(self, canvas: QWidget, natural: tuple[float, float]) -> None:
        super().__init__()
        self.canvas = canvas
        self.natural = natural
        canvas.setParent(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        width, height = self.natural
        return QSize(int(width * MIN_SCALE), int(height * MIN_SCALE))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        width, height = self.natural
        scale = max(MIN_SCALE, min(self.width() / width, self.height() / height, MAX_SCALE))
        w, h = int(width * scale), int(height * scale)
        self.canvas.setGeometry(max(0, (self.width() - w) // 2), 0, w, h)


class ChartsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluation: Evaluation | None = None
        self.built_for: int | None = None  # evaluation id whose charts are on show
        self._loading: int | None = None
        self.charts: list[tuple[str, str, Any]] = []
        self.canvases: dict[int, QWidget] = {}
        self.list = QListWidget()
        self.list.setAccessibleName("Charts")
        self.list.setFixedWidth(290)
        self.list.setSpacing(2)
        self.list.currentRowChanged.connect(self._show_chart)
        self.save_button = QPushButton(icon("export"), "Save image…")
        self.save_button.setToolTip("Save the chart shown as a PNG file")
        self.save_button.clicked.connect(lambda: self.save_image())
        self.status = plain_label("", "hint")
        self.stack = QStackedWidget()
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.stack)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addWidget(self.status)
        right.addWidget(self.scroll, 1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 8, 0, 0)
        row.addLayout(left)
        row.addLayout(right, 1)
        self._clear("Select an evaluation to see its charts.")

    # -- loading -----------------------------------------------------------------------------
    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        self.evaluation = evaluation
        if evaluation is None:
            self._clear("Select an evaluation to see its charts.")
        elif self.isVisible():
            self.ensure_built()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.ensure_built()

    def ensure_built(self) -> None:
        """Build the charts of the current evaluation unless they are on show or on their way."""
        ev = self.evaluation
        if ev is None or ev.id in (self.built_for, self._loading):
            return
        self._clear("Drawing the charts…")
        self._loading = ev.id
        evidence = ev.evidence if isinstance(ev.evidence, dict) else {}
        run_call(self, "Drawing the charts…", lambda: build_charts(evidence),
                 lambda charts, i=ev.id: self._built(i, charts), show_progress=False,
                 on_failure=lambda err, i=ev.id: self._failed(i, err))

    def _failed(self, evaluation_id: int, err: BaseException) -> bool:
        if self._loading == evaluation_id:
            self._loading = None
        return False  # a KnownError or a crash: the task facade shows it

    def _built(self, evaluation_id: int, charts: list[tuple[str, str, Any]]) -> None:
        if self._loading == evaluation_id:
            self._loading = None
        if self.evaluation is None or self.evaluation.id != evaluation_id:
            return  # another evaluation was selected meanwhile
        self._clear("" if charts else "This record has nothing to chart.")
        self.charts = charts
        self.built_for = evaluation_id
        self.list.blockSignals(True)
        for _key, title, _fig in charts:
            self.list.addItem(title)  # QListWidget items are plain text
        self.list.blockSignals(False)
        if charts:
            self.list.setCurrentRow(0)

    def _clear(self, message: str) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        for canvas in self.canvases.values():
            self.stack.removeWidget(canvas)
            canvas.deleteLater()
        self.canvases = {}
        self.charts = []
        self.built_for = None
        self.status.setText(message)
        self.status.setVisible(bool(message))
        self.save_button.setEnabled(False)

    # -- showing -----------------------------------------------------------------------------
    def _show_chart(self, row: int) -> None:
        if not 0 <= row < len(self.charts):
            return
        if row not in self.canvases:
            figure = self.charts[row][2]
            width, height = figure.get_size_inches() * figure.dpi
            self.canvases[row] = ChartHolder(canvas_for(figure), (float(width), float(height)))
            self.stack.addWidget(self.canvases[row])
        self.stack.setCurrentWidget(self.canvases[row])
        self.save_button.setEnabled(True)

    def keys(self) -> list[str]:
        return [key for key, _title, _fig in self.charts]

    def current_canvas(self) -> QWidget | None:
        holder = self.canvases.get(self.list.currentRow())
        return holder.canvas if holder is not None else None

    def save_image(self, dest: str | None = None) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.charts):
            return
        key, title, figure = self.charts[row]
        if dest is None:
            name = "".join(c if c.isalnum() or c in "-_" else "-" for c in key) + ".png"
            dest, _ = QFileDialog.getSaveFileName(self, f"Save {title}", name, "PNG (*.png)")
            if not dest:
                return
        from core.reports.charts import figure_png
        from core.services.documentation import write_atomically

        data = figure_png(figure)  # GUI thread: the Figure is attached to a canvas here
        path = dest
        run_call(self, "Saving the chart…", lambda: write_atomically(Path(path), data),
                 show_progress=False)
