"""Reports drawn from recorded evidence: charts (matplotlib Figures) and the documentation PDF.

One chart, two outputs: :mod:`core.reports.charts` builds ``matplotlib.figure.Figure`` objects
from plain evidence dicts; views embed them with a Qt canvas and the PDF prints them through
:func:`core.reports.charts.figure_png`. matplotlib and reportlab are imported inside functions,
so importing this package stays cheap.
"""
