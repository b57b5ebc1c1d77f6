"""DejaVu Sans for the PDF reports (Bitstream Vera licence: LICENSE.txt); importlib.resources."""
