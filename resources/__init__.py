"""Icons and style sheets, loaded with importlib.resources so a frozen build finds them."""
