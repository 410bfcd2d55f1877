"""Serving certificates of the aggregated API servers, kept as state next to the stack."""
