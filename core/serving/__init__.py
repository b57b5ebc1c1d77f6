"""The serving agent: self-contained, imports nothing else from ``core`` so it ships alone."""
