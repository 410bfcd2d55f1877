"""kmc — the Kubernetes monitoring compiler."""

__version__ = "0.1.0"
