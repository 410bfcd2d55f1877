"""The only code that touches an output directory: the writer, the lock, packages and registries."""
