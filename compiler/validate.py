"""The validation stage: version, schema, model, semantic checks — every problem at once."""

from __future__ import annotations

from kmc import schema_check, semantic
from kmc.errors import Diagnostic, StackInvalid
from kmc.loader import Document
from kmc.model import Stack


def validate(doc: Document) -> tuple[Stack, list[Diagnostic]]:
    """The stack model of `doc` and its warnings; StackInvalid with every problem otherwise."""
    schema_check.check_version(doc)
    problems = schema_check.schema_diagnostics(doc)
    if problems:
        raise StackInvalid(problems)
    stack = Stack.from_data(schema_check.load_schema(), doc.data)
    problems = semantic.check(doc, stack)
    if problems:
        raise StackInvalid(problems)
    return stack, semantic.warnings(doc, stack)
