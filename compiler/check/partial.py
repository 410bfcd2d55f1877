"""The part of a stack that passes the schema, so that semantic checks run beside schema errors.

"Every problem at once" must hold across phases: a stack with an unknown key and a reference to
an alert that does not exist gets both in one run. The semantic checks read a schema-valid model,
so kmc cuts from the data what the schema refuses (the smallest enclosing mapping key; a whole
list when one of its items is refused, so that no index shifts) until the rest passes, builds the
model from that, and runs the checks on it. Defaults then stand where values were cut, and a
check could read a default as the user's choice: so a semantic problem is kept only when no
section it may depend on lost anything (`DEPENDS`); where a check cannot run on its real input,
only that check's findings are skipped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.read.document import JsonPath
from kmc.schema_refs import properties

MAX_ROUNDS = 12
# A section whose values every check reads: anything cut from it skips the semantic checks.
EVERYWHERE = frozenset({"cluster"})
# What the checks of one part of the stack read beyond their own top-level section (kmc.check.*),
# as (where they report, what they read): a cut that overlaps what they read skips their findings.
READS: tuple[tuple[JsonPath, JsonPath], ...] = (
    *((("autoscaling",), (needed,)) for needed in ("prometheusAdapter", "metricsServer", "prometheus", "scrape", "nodeExporter", "kubeStateMetrics")),
    *((("prometheusAdapter",), (needed,)) for needed in ("prometheus", "scrape", "metricsServer", "nodeExporter", "kubeStateMetrics", "certificates")),
    *((("metricsServer",), (needed,)) for needed in ("prometheusAdapter", "certificates")),
    *((("certificates",), (needed,)) for needed in ("prometheusAdapter", "metricsServer")),
    *(
        (("scrape",), (needed,))
        for needed in ("prometheus", "nodeExporter", "kubeStateMetrics", "grafana", "alertmanager", "metricsServer", "prometheusAdapter", "namespace")
    ),
    *((("prometheus",), (needed,)) for needed in ("scrape", "grafana", "namespace")),
    (("grafana",), ("namespace",)),
    (("grafana", "service"), ("prometheus", "service")),
    (("alertmanager", "service"), ("prometheus", "service")),
    (("alertmanager", "service"), ("grafana",)),
)
_STEP = re.compile(r"""\.([^.\[]+)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""")


class Passing:
    """`data` cut to what passes the schema, and which semantic findings that cut makes unreliable."""

    def __init__(self, data: Any, cut: list[JsonPath]) -> None:
        self.data = data
        self.cut = cut

    def trusted(self, rendered_path: str) -> bool:
        """Whether a semantic finding at `rendered_path` (a JSON path as diagnostics print it) read
        only values the cut left whole."""
        env, finding = _in_environment(_parsed(rendered_path))
        for path in self.cut:
            cut_env, cut = _in_environment(path)
            if cut_env is not None and cut_env != env:
                continue
            if not cut or cut[0] in EVERYWHERE or (finding and cut[0] == finding[0]):
                return False
            if any(_overlap(reader, finding) == len(reader) and _overlap(needed, cut) for reader, needed in READS):
                return False
        return True


def passing_part(schema: Mapping[str, Any], data: Mapping[str, Any]) -> Passing | None:
    """`data` (a mapping) cut until it passes `schema`, or None when nothing usable is left."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    kept = copy.deepcopy(dict(data))
    cut: list[JsonPath] = []
    for _ in range(MAX_ROUNDS):
        errors = list(validator.iter_errors(kept))
        if not errors:
            return Passing(kept, cut)
        for error in errors:
            for where in _refused(schema, error):
                point = _cut_point(where)
                if not point:
                    return None
                _remove(kept, point)
                cut.append(point)
    return None


def _refused(root: Mapping[str, Any], error: Any) -> Iterator[JsonPath]:
    """The paths a schema error refuses: the unknown or badly named keys, else the value itself."""
    path: JsonPath = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        yield (*path, error.instance)
    elif error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        allowed = properties(root, error.schema)
        yield from ((*path, key) for key in sorted(error.instance) if key not in allowed)
    else:
        yield path


def _cut_point(path: JsonPath) -> JsonPath:
    """The mapping key to cut for a refusal at `path`: the list itself when it is inside one."""
    for index, part in enumerate(path):
        if isinstance(part, int):
            return path[:index]
    return path


def _remove(data: Any, path: JsonPath) -> None:
    for part in path[:-1]:
        if not isinstance(data, dict) or part not in data:
            return
        data = data[part]
    if isinstance(data, dict):
        data.pop(path[-1], None)


def _in_environment(path: JsonPath) -> tuple[str | None, JsonPath]:
    """(environment, path within it) for a path below `environments`, else (None, path). A cut of
    a whole environment (or of every environment) is an empty path within it."""
    if path[:1] == ("environments",):
        return (str(path[1]) if len(path) > 1 else "*"), path[2:]
    return None, path


def _overlap(a: JsonPath, b: JsonPath) -> int:
    """How many leading steps `a` and `b` share, when one is a prefix of the other (else 0)."""
    shared = min(len(a), len(b))
    return shared if a[:shared] == b[:shared] else 0


def _parsed(rendered: str) -> JsonPath:
    """A JSON path as kmc.read.document.json_path renders it, back as steps."""
    import ast

    steps: list[str | int] = []
    for name, index, quoted in _STEP.findall(rendered.removeprefix("$")):
        steps.append(name if name else int(index) if index else ast.literal_eval(quoted))
    return tuple(steps)
