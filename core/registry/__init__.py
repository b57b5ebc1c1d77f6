"""Model registry: content-addressed artifact store, safe archive unpacking, datasets and profiles."""
