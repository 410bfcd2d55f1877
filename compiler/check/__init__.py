"""The validation stage: the stack schema, then the checks a schema cannot express."""
