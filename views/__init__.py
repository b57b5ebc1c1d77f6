"""Qt screens, table models, shared widgets. Only views import PySide6."""
