"""kmc's own checkov checks (loaded with --external-checks-dir; checkov wants this package marker)."""
