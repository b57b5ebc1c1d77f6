"""The console style sheet."""
