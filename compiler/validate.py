"""The validation stage: version, schema, model, semantic checks — every problem at once."""

from __future__ import annotations

from kmc import schema_check, schema_gate, semantic
from kmc.errors import Diagnostic, StackInvalid
from kmc.loader import Document
from kmc.model import Stack


def validate(doc: Document) -> tuple[Stack, list[Diagnostic]]:
    """The stack model of `doc` and its warnings; StackInvalid with every problem otherwise."""
    schema_check.check_version(doc)
    schema = schema_check.load_schema()
    # jsonschema (slow to import) is only needed to explain a stack the fast gate rejects.
    if not schema_gate.is_valid(schema, doc.data):
        problems = schema_check.schema_diagnostics(doc)
        if problems:
            raise StackInvalid(problems)
    stack = Stack.from_data(schema, doc.data)
    problems = semantic.check(doc, stack)
    if problems:
        raise StackInvalid(problems)
    return stack, semantic.risky_choices(doc, stack)
