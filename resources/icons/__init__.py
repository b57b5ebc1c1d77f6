"""Navigation and action icons (hand-written SVG, 24 x 24, stroke style)."""
