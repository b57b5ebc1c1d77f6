"""Model evaluation on holdout data: metrics, segment analysis, latency.

Everything here returns plain, JSON-serialisable data (floats, ints, lists, dicts) so it can be
stored as evidence and drawn by charts later. numpy, pandas and scikit-learn are imported inside
the functions: importing this package stays cheap.
"""
