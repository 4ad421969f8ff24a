"""Offline prototypes judged with the evaluation's own metrics (not product code)."""
