"""Persistence: engine, ORM, unit of work, migrations. Only services use it."""
