"""Charter's domain and services. Nothing under this package imports Qt."""
