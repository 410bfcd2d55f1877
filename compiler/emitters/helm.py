"""Helm: one chart whose values are the stack's deploy-time parameters.

Layout (under `helm/<chart name>/`):

    Chart.yaml              apiVersion v2, from the stack's `chart` section
    values.yaml             the stack's own parameter values, each key with its schema description
    values-<env>.yaml       what each environment of the stack overrides
    values.schema.json      strict schema of the values, cut from the stack schema's fragments
    templates/_helpers.tpl  the release labels every object gets
    templates/NN-<kind>-<name>.yaml   one template per object of the graph
    templates/NOTES.txt     what was installed and how to reach it
    README.md               how to install, and every value with its description

Only parameters become template actions; everything structural (prometheus.yml, RBAC, names) is
compiled into the templates as literal YAML. An object's parameters are rendered as follows:

    Param, string       {{ .Values.p | quote }}
    Param, integer      {{ int64 .Values.p }}        (Helm reads numbers as float64: 1e+06 otherwise)
    Param, boolean      {{ .Values.p }}
    Param, map or list  {{- toYaml .Values.p | nindent N }}
    Param, omit_empty   the field inside {{- with .Values.p }} ... {{- end }}
    Join                {{ printf "lit%s..." .Values.p | quote }}
    Switch              {{ if .Values.p }}"on"{{ else }}"off"{{ end }}
    Text                a literal block (`key: |`), each switched section of lines inside
                        {{- if .Values.p }} ... {{- else }} ... {{- end }}
    conditions          the whole file inside {{- if and (.Values.p) (.Values.q) }} ... {{- end }}
                        (`p>1`: {{- if gt (int64 .Values.p) 1 }})

The Namespace is the one object whose condition is the chart's own value, `namespace.create`
(off by default): Helm refuses to install a release into a namespace it does not own, which is
what `helm install -n NS --create-namespace` or a namespace made beforehand (to hold Secrets) is.

Literal `{{` in compiled text (a relabel replacement, a dashboard legend) is escaped, so Helm
prints it back unchanged.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from kmc import __version__, schema_refs
from kmc.components import exposure, prerequisites
from kmc.emitters import helm_checks, helm_texts
from kmc.emitters.manifests import file_name
from kmc.ir import MORE_THAN_ONE, Join, KObject, ObjectGraph, Param, Switch, Text, condition_path, condition_paths, dynamic_nodes, lookup, parse_equals
from kmc.model import Stack
from kmc.text import yaml_text

# Labels only the chart adds (to each object's own metadata, never to selectors or pod templates):
# the one place that says what `helm template` may add beyond `kmc build --format manifests`.
RELEASE_LABELS = ("app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart")
KUBE_VERSION = ">=1.25.0-0"  # the oldest Kubernetes kmc's objects are valid for (see semantic checks)
SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The chart's own value (not a stack parameter): whether the release holds the stack's Namespace.
NAMESPACE_CREATE = "namespace.create"

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_INDENT = re.compile(r"(?: |- )*")


def emit(graph: ObjectGraph, stack: Stack, schema: Mapping[str, Any]) -> dict[str, bytes]:
    """`{path: content}` of the chart directory, under the chart's name."""
    chart = stack.chart.name
    types = _ParamTypes(schema)
    used = parameter_paths(graph)
    defaults = _prune(stack.values(None), used)
    namespace = _namespace(graph)
    schema_json = values_schema(schema, used, defaults, chart)
    helm_checks.bounds(schema_json, stack, used)
    values = _values_yaml(defaults, schema)
    if namespace is not None:
        assert "namespace" not in schema_json["properties"], "a stack parameter section would shadow the chart's namespace value"
        schema_json["properties"]["namespace"] = _namespace_schema(namespace.name)
        schema_json["required"] = sorted({*schema_json.get("required", []), "namespace"})
        values += _namespace_values(namespace.name)
    files = {
        "Chart.yaml": _chart_yaml(stack, used),
        "values.yaml": values,
        "values.schema.json": json.dumps(schema_json, indent=2, sort_keys=True) + "\n",
        "templates/_helpers.tpl": _helpers(chart),
        "templates/NOTES.txt": _notes(graph, stack),
        "README.md": _readme(stack, schema, defaults, used, namespace),
    }
    checks = helm_checks.template(used)
    if checks is not None:
        files[helm_checks.NAME] = checks
    for env in stack.environments:
        overrides = _prune(stack.environments[env], used)
        header = f"# Values of the stack's `{env}` environment: helm install ... -f values-{env}.yaml\n"
        files[f"values-{env}.yaml"] = header + (yaml_text.dump(overrides) if overrides else "{}\n")
    for obj in graph.objects:
        if obj.private:
            continue  # a chart is for publishing: Secrets holding keys are made at install time (NOTES)
        files[f"templates/{file_name(obj.body)}"] = _template(obj, types, chart)
    return {f"{chart}/{path}": text.encode("utf-8") for path, text in sorted(files.items())}


# -- parameters ---------------------------------------------------------------------------------


def parameter_paths(graph: ObjectGraph) -> frozenset[str]:
    """Every value path the graph reads: its parameters, switches and conditions."""
    paths = {condition_path(condition) for obj in graph.objects for condition in obj.conditions}
    for obj in graph.objects:
        _read_paths(obj.body, paths)
    return frozenset(paths)


def _read_paths(value: Any, paths: set[str]) -> None:
    for node in dynamic_nodes(value):
        if isinstance(node, Join):
            paths.update(part.path for part in node.parts if isinstance(part, Param))
        elif isinstance(node, Text):
            paths.update(path for part in node.parts if isinstance(part, Switch) for path in condition_paths(part.path))
        else:
            paths.update(condition_paths(node.path))
            if isinstance(node, Switch):  # either side may read parameters of its own (a list of args)
                _read_paths(node.on, paths)
                _read_paths(node.off, paths)


def _reads(path: str, used: frozenset[str]) -> bool:
    """Whether the value at `path` is read: it is a parameter, inside one, or holds one."""
    if path in used or path in _holders(used):
        return True
    end = path.rfind(".")
    while end > 0:  # inside a parameter: one of its ancestors is one
        if path[:end] in used:
            return True
        end = path.rfind(".", 0, end)
    return False


@functools.cache
def _holders(used: frozenset[str]) -> frozenset[str]:
    """The paths that hold a parameter (every proper ancestor of one)."""
    return frozenset(path[:index] for path in used for index, char in enumerate(path) if char == ".")


def _prune(values: Mapping[str, Any], used: frozenset[str], prefix: str = "") -> dict[str, Any]:
    """`values` without the keys no template reads (the chart's schema rejects those)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if value is None or not _reads(path, used):
            continue
        out[key] = _prune(value, used, path + ".") if isinstance(value, Mapping) and path not in used else value
    return out


class _ParamTypes:
    """The JSON type of each parameter path, read from the stack schema."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema

    def node(self, path: str) -> Mapping[str, Any]:
        node: Mapping[str, Any] = self.schema
        for key in path.split("."):
            node = schema_refs.properties(self.schema, node)[key]
        return node

    def of(self, path: str) -> set[str]:
        node = schema_refs.resolved(self.schema, self.node(path))
        kind = node.get("type", "string" if "enum" in node else None)
        assert kind is not None, f"the schema gives no type for parameter {path}"
        return {kind} if isinstance(kind, str) else set(kind)


# -- templates -----------------------------------------------------------------------------------


def _template(obj: KObject, types: _ParamTypes, chart: str) -> str:
    body = {**obj.body, "metadata": {**obj.body["metadata"], "labels": {**obj.body["metadata"].get("labels", {}), _LABELS: "x"}}}
    lines = _render(body, types, chart, 0)
    text = "\n".join(lines) + "\n"
    condition = _condition(obj)
    if condition is not None:
        text = f"{{{{- if {condition} }}}}\n{text}{{{{- end }}}}\n"
    return text


_LABELS = object()  # where the release labels go: a key no stack can write


def _render(value: Any, types: _ParamTypes, chart: str, offset: int) -> list[str]:
    """Template lines of `value` as YAML indented by `offset` columns, parameters as actions.

    Parameters stand in the dumped YAML as placeholder words, then become template actions. The
    placeholder must not occur in the value's own text (a user may write anything).
    """
    token = _fresh_token(value)
    token_re = re.compile(re.escape(token) + r"[0-9]{6}")
    labels_token = token + "labels"
    slots: dict[str, Param | Join | Switch | Text] = {}

    def tokenize(node: Any) -> Any:
        if isinstance(node, (Param, Join, Switch, Text)):
            slot = f"{token}{len(slots):06d}"
            slots[slot] = node
            return slot
        if isinstance(node, Mapping):
            return {labels_token if key is _LABELS else key: "x" if key is _LABELS else tokenize(child) for key, child in node.items()}
        if isinstance(node, (list, tuple)):
            return [tokenize(child) for child in node]
        return node

    text = yaml_text.dump(tokenize(value))
    assert text.count(token) == len(slots) + text.count(labels_token), "a parameter is not a whole YAML scalar"
    text = text.replace("{{", '{{ "{{" }}')  # literal braces stay literal
    lines = []
    for line in text.splitlines():
        line = " " * offset + line
        if labels_token in line:
            indent = len(line) - len(line.lstrip(" "))
            lines.append(f'{" " * indent}{{{{- include "{chart}.labels" . | nindent {indent} }}}}')
            continue
        match = token_re.search(line)
        if match is None:
            lines.append(line)
            continue
        assert match.end() == len(line), line
        lines.extend(_action(line[: match.start()], slots[match.group()], types, chart))
    return lines


def _fresh_token(body: Any) -> str:
    """A placeholder word that no string of `body` contains."""
    words: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, Mapping):
            for key, child in value.items():
                if isinstance(key, str):
                    words.append(key)
                collect(child)
        elif isinstance(value, (list, tuple)):
            for child in value:
                collect(child)

    collect(body)
    text = "\n".join(words)
    attempt = 0
    while f"kmcQslot{attempt}Q" in text:
        attempt += 1
    return f"kmcQslot{attempt}Q"


def _condition(obj: KObject) -> str | None:
    """The template test of an object's conditions (all must hold), None when it always exists."""
    conditions = (*obj.conditions, NAMESPACE_CREATE) if obj.kind == "Namespace" else obj.conditions
    if not conditions:
        return None
    if len(conditions) == 1:
        return _test(conditions[0])
    return "and " + " ".join(f"({_test(condition)})" for condition in conditions)


def _test(condition: str) -> str:
    """The template test of one condition (kmc.ir.holds reads the same)."""
    if "&" in condition:
        return "and " + " ".join(f"({_test(term)})" for term in condition.split("&"))
    if condition.startswith("!"):
        return f"not ({_test(condition[1:])})"
    equals = parse_equals(condition)
    if equals is not None:
        entries, key, path, word = equals
        if entries is None:
            assert path is not None
            value = _values(path)
        else:
            value = f"index ({_values(entries)} | default dict) {json.dumps(key)}" + (f" | default {_values(path)}" if path else "")
        return f"eq (toString ({value})) {json.dumps(word)}"
    if condition.endswith(MORE_THAN_ONE):
        return f"gt (int64 {_values(condition_path(condition))}) 1"
    return _values(condition)


def _values(path: str) -> str:
    assert _PATH.fullmatch(path), f"parameter path {path!r} is not a Go template field chain"
    return f".Values.{path}"


def _action(prefix: str, node: Param | Join | Switch | Text, types: _ParamTypes, chart: str) -> list[str]:
    """The template lines for `prefix` (`key: ` or `- `) followed by the value of `node`."""
    if isinstance(node, Text):
        return _block(prefix, node)
    if isinstance(node, Join):
        fmt = "".join(part.replace("%", "%%") if isinstance(part, str) else _verb(types.of(part.path)) for part in node.parts)
        args = " ".join(_scalar_arg(_values(part.path), types.of(part.path)) for part in node.parts if isinstance(part, Param))
        return [f"{prefix}{{{{ printf {json.dumps(fmt)} {args} | quote }}}}"]
    if isinstance(node, Switch):
        if any(isinstance(value, (Mapping, list, tuple)) for value in (node.on, node.off)):
            # A block: each branch rendered on its own lines under the key.
            assert prefix.endswith(": ") and not prefix.lstrip(" ").startswith("- "), f"a structured Switch needs a field of its own line: {prefix!r}"
            indent = " " * (len(prefix) - len(prefix.lstrip(" ")))
            column = _key_column(prefix) + 2
            return [
                prefix.rstrip(),
                f"{indent}{{{{- if {_test(node.path)} }}}}",
                *_render(node.on, types, chart, column),
                f"{indent}{{{{- else }}}}",
                *_render(node.off, types, chart, column),
                f"{indent}{{{{- end }}}}",
            ]
        on, off = (json.dumps(value).replace("{{", '{{ "{{" }}') for value in (node.on, node.off))
        return [f"{prefix}{{{{ if {_test(node.path)} }}}}{on}{{{{ else }}}}{off}{{{{ end }}}}"]
    kinds = types.of(node.path)
    if not node.omit_empty:
        return [prefix + _value(_values(node.path), kinds, prefix)]
    indent = " " * (len(prefix) - len(prefix.lstrip(" ")))
    assert prefix.endswith(": ") and not prefix.lstrip(" ").startswith("- "), f"omit_empty needs a field of its own line: {prefix!r}"
    return [f"{indent}{{{{- with {_values(node.path)} }}}}", prefix + _value(".", kinds, prefix), f"{indent}{{{{- end }}}}"]


def _block(prefix: str, node: Text) -> list[str]:
    """`key: |` and the lines of `node`, each switched section between `{{- if }}` lines.

    `{{-` eats the newline and indentation before it, so a section's lines join the text exactly
    where they stand, or vanish with their newline; a blank line before a section would vanish
    with it, so there is none.
    """
    assert prefix.endswith(": ") and not prefix.lstrip(" ").startswith("- "), f"a Text needs a field of its own line: {prefix!r}"
    column = _key_column(prefix) + 2
    indent = " " * column
    lines: list[str] = []

    def literal(text: str) -> None:
        lines.extend(indent + line if line else "" for line in text.replace("{{", '{{ "{{" }}').split("\n")[:-1])

    for part in node.parts:
        if isinstance(part, str):
            literal(part)
            continue
        assert not lines or lines[-1], "a blank line before a section"
        lines.append(f"{indent}{{{{- if {_test(part.path)} }}}}")
        literal(part.on)
        if part.off:
            lines.append(f"{indent}{{{{- else }}}}")
            literal(part.off)
        lines.append(f"{indent}{{{{- end }}}}")
    first = next((line for line in lines if line and not line.lstrip().startswith("{{-")), "")
    # An indentation indicator when the text itself starts with a space (YAML would take it as the block's indentation).
    indicator = "2" if first[column:].startswith(" ") else ""
    return [f"{prefix}|{indicator}", *lines]


def _value(expr: str, kinds: set[str], prefix: str) -> str:
    if kinds & {"object", "array"}:
        assert kinds <= {"object", "array", "null"}, kinds
        column = len(prefix) if prefix.endswith("- ") else _key_column(prefix) + 2
        # `{{-` eats the space after `key:` or `-`; the value goes on the next lines, indented.
        return f"{{{{- toYaml {expr} | nindent {column} }}}}"
    if kinds - {"null"} == {"integer", "string"}:
        return f"{{{{ {expr} | toJson }}}}"  # a number or a percentage (a PodDisruptionBudget's): each as it is
    if "string" in kinds:
        return f"{{{{ {expr} | quote }}}}"
    if kinds == {"integer"}:
        return f"{{{{ int64 {expr} }}}}"
    if kinds == {"boolean"}:
        return f"{{{{ {expr} }}}}"
    return f"{{{{ {expr} | toJson }}}}"


def _key_column(prefix: str) -> int:
    """Where the key of `  - key: ` starts: after the indentation and any list dashes."""
    match = _INDENT.match(prefix)
    assert match is not None
    return match.end()


def _verb(kinds: set[str]) -> str:
    return "%d" if kinds == {"integer"} else "%t" if kinds == {"boolean"} else "%v"


def _scalar_arg(expr: str, kinds: set[str]) -> str:
    assert not kinds & {"object", "array"}, "a Join holds scalar parameters"
    return f"(int64 {expr})" if kinds == {"integer"} else expr


def _helpers(chart: str) -> str:
    return "\n".join(
        [
            "{{/* The chart label: name-version, as Helm's own charts write it. */}}",
            f'{{{{- define "{chart}.chart" -}}}}',
            '{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}',
            "{{- end }}",
            "",
            "{{/* Release labels, added to every object's own labels (never to selectors: those stay as compiled). */}}",
            f'{{{{- define "{chart}.labels" -}}}}',
            "app.kubernetes.io/instance: {{ .Release.Name | quote }}",
            "app.kubernetes.io/managed-by: {{ .Release.Service | quote }}",
            f'helm.sh/chart: {{{{ include "{chart}.chart" . | quote }}}}',
            "{{- end }}",
            "",
        ]
    )


# -- chart metadata, values and their schema -----------------------------------------------------


def chart_version(stack: Stack) -> str:
    """The stack's chart version (`chart.version`; its default is the schema's, not kmc's version:
    the chart is the stack's, and a new kmc release must not republish it)."""
    return stack.chart.version


def _chart_yaml(stack: Stack, used: frozenset[str]) -> str:
    chart = stack.chart
    # Only the images the chart's templates use: not those of components the stack never deploys.
    images = sorted({str(lookup(stack.values(None), path)) for path in used if path.endswith(".image")})
    metadata: dict[str, Any] = {
        "apiVersion": "v2",
        "name": chart.name,
        "version": chart_version(stack),
        "appVersion": chart.app_version or chart_version(stack),
        "kubeVersion": KUBE_VERSION,
        "description": chart.description,
        "type": "application",
        "keywords": ["monitoring", "prometheus", "kmc"],
    }
    if chart.sources:
        metadata["sources"] = list(chart.sources)
    metadata["annotations"] = {
        "artifacthub.io/category": "monitoring-logging",
        "artifacthub.io/images": yaml_text.dump([{"name": image.rsplit("/", 1)[-1].split(":")[0].split("@")[0], "image": image} for image in images]),
        "kmc.dev/generated-by": f"kmc {__version__}",
    }
    return yaml_text.dump(metadata)


def values_schema(schema: Mapping[str, Any], used: frozenset[str], defaults: Mapping[str, Any], chart: str) -> dict[str, Any]:
    """A strict JSON Schema of the chart's values, cut from the stack schema: the same fragments."""
    refs: set[str] = set()
    root = _cut(schema, schema, used, defaults, "", refs)
    pending = sorted(refs)
    defs: dict[str, Any] = {}
    while pending:
        name = pending.pop().removeprefix("#/$defs/")
        if name in defs:
            continue
        found: set[str] = set()
        defs[name] = _portable(schema["$defs"][name], found)
        pending.extend(sorted(found))
    return {
        "$schema": SCHEMA_DRAFT,
        "title": f"Values of the {chart} chart",
        "description": "Deploy-time parameters compiled from stack.yaml by kmc; unknown keys are rejected.",
        **{key: value for key, value in root.items() if key != "description"},
        "$defs": defs,
    }


def _cut(schema: Mapping[str, Any], node: Mapping[str, Any], used: frozenset[str], defaults: Any, path: str, refs: set[str]) -> dict[str, Any]:
    if path in used:
        return dict(_portable(node, refs))
    properties = schema_refs.properties(schema, node)
    kept = {}
    for key in sorted(properties):
        child = f"{path}.{key}" if path else key
        if _reads(child, used):
            kept[key] = _cut(schema, properties[key], used, (defaults or {}).get(key), child, refs)
    description = _description(schema, node)
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": kept}
    if description:
        out["description"] = description
    required = sorted(key for key in kept if isinstance(defaults, Mapping) and defaults.get(key) is not None)
    if required:
        out["required"] = required
    return out


def _portable(node: Any, refs: set[str]) -> Any:
    """A schema fragment as Helm's Go validator reads it: RE2 patterns, no `default`-free noise."""
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if key == "$ref":
                refs.add(value)
            if key == "pattern":
                # Python's `$` also matches before a final newline; the stack schema adds `(?!\n)`.
                # Go's `$` never does, and RE2 has no lookahead.
                value = value.replace("(?!\\n)$", "$")
            out[key] = _portable(value, refs) if key not in ("default", "examples", "enum", "const") else copy.deepcopy(value)
        return out
    if isinstance(node, list):
        return [_portable(item, refs) for item in node]
    return node


def _description(schema: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    """A property's description, or that of the fragment it refers to."""
    return str(schema_refs.resolved(schema, node).get("description", ""))


def _values_yaml(defaults: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    lines = ["# Default values, compiled from stack.yaml by kmc. values.schema.json describes each key.", ""]
    _commented(lines, defaults, schema, schema, 0)
    return "\n".join(lines) + "\n"


def _commented(lines: list[str], values: Mapping[str, Any], schema: Mapping[str, Any], node: Mapping[str, Any], depth: int) -> None:
    properties = schema_refs.properties(schema, node)
    pad = "  " * depth
    for key, value in values.items():
        child = properties[key]
        description = _description(schema, child)
        if description:
            lines.append(f"{pad}# {description}")
        if isinstance(value, Mapping) and value and schema_refs.properties(schema, child):
            lines.append(f"{pad}{key}:")
            _commented(lines, value, schema, child, depth + 1)
        else:
            lines.extend(pad + line for line in yaml_text.dump({key: value}).splitlines())
        if depth == 0:
            lines.append("")


def _namespace(graph: ObjectGraph) -> KObject | None:
    """The stack's Namespace, when it creates one (`createNamespace`)."""
    return next((obj for obj in graph.objects if obj.kind == "Namespace"), None)


def _namespace_description(name: str) -> str:
    return (
        f"On: the release creates and owns the Namespace {name} (labelled for Pod Security Admission), which must not exist yet. "
        f"Off: install with `-n {name} --create-namespace`, or into {name} made beforehand."
    )


def _namespace_schema(name: str) -> dict[str, Any]:
    create = {"type": "boolean", "default": False, "description": _namespace_description(name)}
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "The chart's own values, not the stack's: the namespace of its objects.",
        "properties": {"create": create},
        "required": ["create"],
    }


def _namespace_values(name: str) -> str:
    return "\n".join(
        ["# The chart's own values, not the stack's: the namespace of its objects.", "namespace:", f"  # {_namespace_description(name)}", "  create: false", ""]
    )


# -- texts for people ----------------------------------------------------------------------------


def _notes(graph: ObjectGraph, stack: Stack) -> str:
    services = []
    used = parameter_paths(graph)
    for obj in graph.objects:
        if obj.kind != "Service" or obj.body["metadata"]["labels"].get("app.kubernetes.io/component") == "api-server":
            continue  # an aggregated API server is reached through kube-apiserver, listed below
        if obj.body["spec"].get("clusterIP") == "None":
            continue  # a headless Service names pods for DNS (gossip, gRPC stores, a StatefulSet's pods), not a page to open
        spec = obj.body["spec"]
        port = spec["ports"][0]
        node_port = port.get("nodePort")
        number = port["port"]
        ui = next((ui for ui in exposure.SECTIONS if ui.service == obj.name), None)
        # A host no Ingress or HTTPRoute reads is no value of the chart: there is no URL to print.
        exposed = ui is not None and stack.enabled_somewhere(f"{ui.path}.host") and _reads(f"{ui.path}.host", used)
        services.append(
            {
                "name": obj.name,
                "namespace": obj.namespace,
                "port": f"{{{{ {_values(number.path)} }}}}" if isinstance(number, Param) else number,
                # Its public URL, where an environment names a host (kmc.components.exposure).
                "url": (_values(f"{ui.path}.host"), exposure.prefix(stack, ui.section, ui.key) + "/") if ui and exposed else None,
                "condition": _condition(obj),
                "type": _values(spec["type"].path) if isinstance(spec.get("type"), Param) else None,
                "node_port": _values(node_port.path) if isinstance(node_port, Param) else None,
            }
        )
    workloads = [
        {"kind": obj.kind.lower(), "name": obj.name, "condition": _condition(obj)}
        for obj in graph.objects
        if obj.kind in ("Deployment", "StatefulSet", "DaemonSet")
    ]
    api_services = [obj.name for obj in graph.objects if obj.kind == "APIService"]
    # What the chart needs and never holds (credentials, the serving keys kmc made), each under
    # the condition of the switches that need it.
    needed = [
        (item, _when(item.when), f"{{{{ {_values(item.name.path)} }}}}" if isinstance(item.name, Param) else item.name)
        for item in prerequisites.merged(prerequisites.needs(stack, keys_in_output=False))
    ]
    namespace = _namespace(graph)
    labels = None
    if namespace is not None:
        # What `kubectl label` gives a namespace the chart did not create: the Namespace's Pod Security labels.
        found = namespace.body["metadata"]["labels"]
        labels = {key: _text_action(value) for key, value in found.items() if key.startswith("pod-security.kubernetes.io/")}
    return helm_texts.notes(stack, services, workloads, api_services, needed, labels)


def _when(alternatives: tuple[tuple[str, ...], ...]) -> str | None:
    """The template test of `alternatives` (any one set of switches all on), None when always."""
    tests = ["and " + " ".join(f"({_values(path)})" for path in paths) if len(paths) > 1 else _values(paths[0]) for paths in alternatives]
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else "or " + " ".join(f"({test})" for test in tests)


def _text_action(value: str | Switch) -> str:
    """A label's value as NOTES.txt prints it: literal, or the template choosing a Switch's side."""
    if isinstance(value, Switch):
        return f"{{{{ if {_values(value.path)} }}}}{value.on}{{{{ else }}}}{value.off}{{{{ end }}}}"
    return value


def _readme(stack: Stack, schema: Mapping[str, Any], defaults: Mapping[str, Any], used: frozenset[str], namespace: KObject | None) -> str:
    types = _ParamTypes(schema)
    rows = []
    for path in sorted(used):
        value = lookup(defaults, path)
        default = "unset" if value is None else f"`{json.dumps(value, sort_keys=True)}`"
        rows.append({"path": path, "default": default, "description": _description(schema, types.node(path)).replace("|", "\\|")})
    if namespace is not None:
        rows.append({"path": NAMESPACE_CREATE, "default": "`false`", "description": _namespace_description(namespace.name)})
        rows.sort(key=lambda row: row["path"])
    return helm_texts.readme(stack, chart_version(stack), rows, __version__)
