"""Deterministic YAML text, as every consumer of kmc's output reads it."""
