"""The `kmc` command line: one module per command, the console script's fast path in `entry`."""
