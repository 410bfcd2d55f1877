"""Deterministic YAML and JSON text, as every consumer of kmc's output reads it."""
