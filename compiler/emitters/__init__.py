"""Emitters: pure functions from the object graph to a file tree (relative path → bytes)."""
