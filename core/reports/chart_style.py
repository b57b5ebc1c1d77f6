"""The look every Charter chart shares: colour-blind-safe colours, fixed sizes, sober axes.

Styling is applied to each artist explicitly rather than through ``matplotlib.rcParams``: the
console process shares rcParams with every Qt canvas, and a report must look the same whatever
another screen changed.
"""

from __future__ import annotations

from typing import Any

from core.reports.formatting import shorten

# Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies.
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
INK = "#222222"
GREY = "#6B6B6B"
LIGHT = "#C8C8C8"
SKY_FILL = "#CFE6F5"
SERIES = (BLUE, ORANGE, GREEN, SKY, PURPLE, VERMILLION)

# Figure sizes in inches: fixed, so the screen and the PDF (16 cm text width) agree.
WIDE = (6.4, 3.4)
TALL = (6.4, 4.2)
SQUARE = (4.8, 4.0)
SHORT = (6.4, 2.8)
FONT = 8.0
TITLE_FONT = 10.0


def new_figure(size: tuple[float, float], title: str) -> Any:
    """An empty Figure (never pyplot) with constrained layout and a left-aligned bold title."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100, layout="constrained", facecolor="white")
    fig.suptitle(safe_text(title), x=0.01, ha="left", fontsize=TITLE_FONT, fontweight="bold",
                 color=INK)
    return fig


def note(ax: Any, text: str) -> None:
    """A grey one-line note above a plot (what the data is, on what rows)."""
    ax.set_title(safe_text(text), loc="left", fontsize=FONT, color=GREY)


def style_axes(ax: Any, xlabel: str | None = None, ylabel: str | None = None,
               grid: str | None = "y") -> None:
    """Thin dark spines on the left and bottom only, small ticks, a light grid behind data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GREY)
        ax.spines[side].set_linewidth(0.8)
    ax.tick_params(labelsize=FONT, colors=INK, length=3, width=0.6)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=FONT, color=INK)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=FONT, color=INK)
    if grid:
        ax.grid(axis=grid, color="#E4E4E4", linewidth=0.6)
        ax.set_axisbelow(True)
    ax.set_facecolor("white")


def legend(ax: Any, **kwargs: Any) -> None:
    kwargs.setdefault("loc", "best")
    ax.legend(fontsize=FONT, frameon=False, **kwargs)


def empty_message(ax: Any, message: str) -> None:
    """Say in the plot area why there is nothing to draw (instead of an empty frame)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(LIGHT)
    ax.text(0.5, 0.5, safe_text(message), ha="center", va="center", fontsize=FONT + 1,
            color=GREY, transform=ax.transAxes, wrap=True)


def safe_text(value: Any, limit: int | None = None) -> str:
    """User text for a matplotlib label: shortened, and ``$`` escaped so it is not mathtext."""
    text = shorten(value, limit) if limit else ("" if value is None else str(value))
    return text.replace("$", r"\$")


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (None, NaN, strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value == value and value not in (float("inf"), float("-inf")) else None
