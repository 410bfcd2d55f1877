"""The Helm chart's texts for people: NOTES.txt (what `helm install` prints) and README.md.

Plain Python rather than templates: importing Jinja2 and compiling two templates cost ~60 ms, a
fifth of a `kmc build --format helm`. NOTES.txt is itself a Helm (Go) template: the `{{ }}` in it
are Helm's, written out literally here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kmc.components.prerequisites import SETTING, Prerequisite, commands
from kmc.model import Stack


def notes(
    stack: Stack,
    services: Sequence[Mapping[str, Any]],
    workloads: Sequence[Mapping[str, Any]],
    api_services: Sequence[str],
    needed: Sequence[tuple[Prerequisite, str | None, str]] = (),
    namespace_labels: Mapping[str, str] | None = None,
) -> str:
    """NOTES.txt; `needed`: what the chart needs and does not hold (see
    kmc.components.prerequisites), each with its template condition and its name as the
    template prints it; `namespace_labels` the Pod Security labels of the stack's Namespace (as
    template text), when it creates one."""
    namespace = stack.namespace
    lines = [
        f"{stack.chart.name} {{{{ .Chart.Version }}}} is installed as release {{{{ .Release.Name }}}}.",
        f"Its objects live in the namespace {namespace} (fixed by the stack; --namespace does not move them).",
    ]
    if namespace_labels is not None:
        labels = " ".join(f"{key}={value}" for key, value in sorted(namespace_labels.items()))
        lines[2:2] = [
            "{{- if not .Values.namespace.create }}",
            "",
            f"The chart does not create the namespace {namespace} (namespace.create is false): install it with",
            f"`-n {namespace} --create-namespace`, or into {namespace} made beforehand, and label it for Pod",
            "Security Admission as the stack's Namespace is:",
            f"  kubectl label namespace {namespace} --overwrite {labels}",
            "{{- end }}",
        ]
    if needed:
        conditions = [condition for _, condition, _ in needed]
        header = [
            "",
            "Before its pods can start, create what the chart needs and does not hold (no chart holds a",
            "credential or a private key); until then they wait in ContainerCreating or Pending:",
        ]
        if any(item.kind == SETTING for item, _, _ in needed):
            header[1:] = [
                "Before its pods can start, create what the chart needs and does not hold (no chart holds a",
                "credential or a private key), and set the cluster up as its cluster settings below say; until",
                "then its pods wait in ContainerCreating or Pending, or their scrape targets stay down:",
            ]
        # The header only where something is listed below it.
        lines += header if None in conditions else _if("or " + " ".join(f"({c})" for c in conditions) if len(conditions) > 1 else conditions[0], header)
        for item, condition, name in needed:
            where = f"{item.namespace}/{name}" if item.namespace else name
            keys = f" ({', '.join(item.keys)})" if item.keys else ""
            what = f"cluster setting: {name}" if item.kind == SETTING else f"{item.kind} {where}{keys}"
            lines += _if(condition, [f"  {what}: {item.why}", *(f"    {line}" for line in commands(item, name))])
    lines += ["", "Workloads:"]
    for workload in workloads:
        lines += _if(workload["condition"], [f"  kubectl -n {namespace} rollout status {workload['kind']}/{workload['name']}"])
    for service in services:
        name, port = service["name"], service["port"]
        forward = [
            f"  kubectl -n {service['namespace']} port-forward service/{name} {port}:{port}",
            f"  then open http://127.0.0.1:{port}",
        ]
        if service["type"] and service["node_port"]:
            forward = [
                f'{{{{- if and (eq {service["type"]} "NodePort") {service["node_port"]} }}}}',
                f"  http://<any node's address>:{{{{ {service['node_port']} }}}}",
                "{{- else }}",
                *forward,
                "{{- end }}",
            ]
        if service["url"]:
            host, path = service["url"]
            forward += [f"{{{{- with {host} }}}}", f"  or https://{{{{ . }}}}{path}", "{{- end }}"]
        lines += _if(service["condition"], ["", f"{name}:", *forward])
    if api_services:
        lines += ["", "Aggregated APIs (each should say Available=True):", *(f"  kubectl get apiservice {name}" for name in api_services)]
    return "\n".join(lines) + "\n"


def _if(condition: str | None, lines: list[str]) -> list[str]:
    """`lines`, inside a Helm `if` on `condition` when there is one."""
    return [f"{{{{- if {condition} }}}}", *lines, "{{- end }}"] if condition else lines


def _namespace_lines(namespace: str) -> list[str]:
    return [
        "",
        f"The chart creates the Namespace `{namespace}` only with `namespace.create=true`: Helm refuses to",
        "install a release into a namespace that exists and that the release does not own, as one made by",
        "`--create-namespace` or beforehand. Such a namespace lacks the Pod Security Admission labels the",
        "stack's Namespace carries: `helm install` prints the `kubectl label` command that adds them.",
    ]


def readme(stack: Stack, version: str, rows: Sequence[Mapping[str, str]], kmc_version: str) -> str:
    """README.md: how to install the chart, and a table of its values (`path`, `default`, `description`)."""
    chart = stack.chart.name
    namespace = stack.namespace
    lines = [
        f"# {chart}",
        "",
        stack.chart.description,
        "",
        f"This chart was compiled by kmc {kmc_version} from a `stack.yaml`. Do not edit it: change the",
        "stack and run `kmc build --format helm` again. Everything structural (the Prometheus scrape",
        "configuration, RBAC, object names) is compiled in; the values below are what a deploy may tune.",
        "",
        "## Install",
        "",
        "```sh",
        f"helm install monitoring ./{chart} -n {namespace} --create-namespace",
        *(
            f"helm install monitoring ./{chart} -n {namespace} --create-namespace -f ./{chart}/values-{env}.yaml   # the stack's `{env}` environment"
            for env in stack.environments
        ),
        "```",
        "",
        "From an OCI registry, after `kmc publish`:",
        "",
        "```sh",
        f"helm install monitoring oci://REGISTRY/REPOSITORY/{chart} --version {version} -n {namespace} --create-namespace",
        "```",
        "",
        f"The objects carry the namespace `{namespace}` the stack names, so install into it: with",
        f"`-n {namespace} --create-namespace`, or into `{namespace}` made beforehand (to hold the Secrets the",
        "stack reads, say). Object names are fixed by the stack too, so one cluster holds one release of",
        "this chart.",
        *(_namespace_lines(namespace) if stack.create_namespace else []),
        "",
        "`values.schema.json` rejects unknown keys and wrong types before anything is rendered.",
        "",
        "## Values",
        "",
        "| Key | Default | Description |",
        "|-----|---------|-------------|",
        *(f"| `{row['path']}` | {row['default']} | {row['description']} |" for row in rows),
    ]
    return "\n".join(lines) + "\n"
