"""The validation stage: version, schema, model, semantic checks — every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kmc.check import certificates as api_certificates
from kmc.check import custom_resource_state, dependencies, features, grafana_settings, monitors, partial, rules, schema, schema_gate, selects, semantic
from kmc.check import grafana as grafana_checks
from kmc.check import ingest as ingest_checks
from kmc.components import dashboards, grafana, kube, rule_packs
from kmc.errors import Diagnostic, StackInvalid
from kmc.model import Stack
from kmc.read.document import Document
from kmc.record import replace

if TYPE_CHECKING:
    from kmc.check.certificates import Certificates


def model(doc: Document) -> Stack:
    """The model of `doc` once it passes the schema (StackInvalid otherwise), before any semantic check."""
    schema.check_version(doc)
    stack_schema = schema.load_schema()
    # jsonschema (slow to import) is only needed to explain a stack the fast gate rejects.
    if not schema_gate.is_valid(stack_schema, doc.data):
        problems = schema.schema_diagnostics(doc)
        if problems:
            raise StackInvalid(problems)
    return Stack.from_data(stack_schema, doc.data)


def _written(data: object, *path: str) -> bool:
    """Whether the stack document itself holds the key at `path` (not a default)."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def validate(doc: Document, stack_dir: Path = Path(), certificates: Certificates = "files", state_base: Path | None = None) -> tuple[Stack, list[Diagnostic]]:
    """The stack model of `doc` and its warnings; StackInvalid with every problem otherwise.

    Grafana dashboard files and certificate files the stack names are read relative to
    `stack_dir`; `certificates` says whether the API servers' certificates may be made (see
    kmc.check.certificates). A stack the schema refuses still gets the semantic checks of the
    part that passes it (kmc.check.partial), so every phase's problems come in one run.
    """
    try:
        stack = model(doc)
    except StackInvalid as refused:
        raise StackInvalid([*refused.diagnostics, *_semantic_beside_schema(doc, stack_dir)]) from None
    stack, problems, imported_warnings = _semantic(doc, stack, stack_dir)
    unread: list[Diagnostic] = []
    if not problems:
        plans, found, unparsed = ingest_checks.check(stack)
        stack = replace(stack, ingest=plans)
        problems += [doc.diagnostic(path, message, hint) for path, message, hint in found]
        unread = [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in unparsed]
    if not problems:
        stack, found = api_certificates.load(stack, stack_dir, certificates, state_base)
        problems += [doc.diagnostic(path, message, hint) for path, message, hint in found]
    if problems:
        raise StackInvalid(problems)
    warnings = [*imported_warnings, *unread, *semantic.risky_choices(doc, stack)]
    closed = grafana_checks.prometheus_closed_to_grafana(stack, kube.labels(grafana.NAME, grafana.ROLE))
    warnings += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in closed]
    warnings += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in dependencies.warnings(stack)]
    return stack, warnings


def _semantic(doc: Document, stack: Stack, stack_dir: Path) -> tuple[Stack, list[Diagnostic], list[Diagnostic]]:
    """Every semantic problem of the schema-valid `doc`, its model with monitors, rules and
    dashboards vendored, and the warnings of the monitor files."""
    stack, problems, imported_warnings = monitors.vendor(stack, doc, stack_dir)
    problems += semantic.check(doc, stack)
    problems += [doc.diagnostic(path, message, hint) for path, message, hint in grafana_checks.check(stack)]
    problems += [doc.diagnostic(path, message, hint, key=key) for path, message, hint, key in grafana_settings.problems(stack)]
    problems += [doc.diagnostic(path, message, hint) for path, message, hint in features.problems(stack)]
    problems += [doc.diagnostic(path, message, hint) for path, message, hint in dependencies.problems(stack)]
    problems += [doc.diagnostic(path, message, hint) for path, message, hint in custom_resource_state.problems(stack)]
    packs = rule_packs.library()
    problems += [doc.diagnostic(path, message, hint, key=key) for path, message, hint, key in rules.check(stack, packs)]
    stack = rule_packs.vendor(stack, packs)
    if not problems:  # PromQL that parses, jobs that exist: what "selects nothing" reads
        problems += [doc.diagnostic(path, message, hint) for path, message, hint in selects.stack_rule_problems(stack)]
    if stack.monitors.rule_files:
        stack = replace(stack, rules=replace(stack.rules, files={**stack.rules.files, **stack.monitors.rule_files}))
    if stack.enabled_somewhere("grafana.enabled"):
        if not dashboards.has_prometheus(stack) and not _written(doc.data, "grafana", "dashboards", "library"):
            # kmc's library dashboards query its Prometheus: by default, a Grafana without one has none.
            stack = replace(stack, grafana=replace(stack.grafana, library=()))
        stack, found = dashboards.vendor(stack, stack_dir)
        problems += [doc.diagnostic(path, message, hint) for path, message, hint in found]
    return stack, problems, imported_warnings


def _semantic_beside_schema(doc: Document, stack_dir: Path) -> list[Diagnostic]:
    """The semantic problems of the part of `doc` that passes the schema, where what the schema
    refused cannot have caused them (kmc.check.partial)."""
    if not isinstance(doc.data, dict) or "version" not in doc.data:
        return []
    passing = partial.passing_part(schema.load_schema(), doc.data)
    if passing is None or not passing.cut:
        return []
    stack = Stack.from_data(schema.load_schema(), passing.data)
    _, found, _ = _semantic(replace(doc, data=passing.data), stack, stack_dir)
    return [problem for problem in found if passing.trusted(problem.path)]
