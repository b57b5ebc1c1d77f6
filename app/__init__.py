"""Composition root: settings, wiring services to views, the `charter` CLI and GUI entry points."""
