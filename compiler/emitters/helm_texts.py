"""The Helm chart's texts for people: NOTES.txt (what `helm install` prints) and README.md.

Plain Python rather than templates: importing Jinja2 and compiling two templates cost ~60 ms, a
fifth of a `kmc build --format helm`. NOTES.txt is itself a Helm (Go) template: the `{{ }}` in it
are Helm's, written out literally here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kmc.model import AdminSecret, Stack


def notes(
    stack: Stack,
    services: Sequence[Mapping[str, Any]],
    workloads: Sequence[Mapping[str, Any]],
    api_services: Sequence[str],
    grafana: tuple[str | None, AdminSecret] | None,
    tls_secrets: Sequence[Mapping[str, Any]] = (),
    alertmanager: tuple[str | None, Mapping[str, Sequence[str]]] | None = None,
    namespace_labels: Mapping[str, str] | None = None,
) -> str:
    """NOTES.txt; `grafana` is the condition of Grafana's Deployment and its admin Secret, if it is
    built; `tls_secrets` the API servers whose serving-certificate Secret is to be made from kmc's
    state (`server`, `secret`, `condition`, `state`); `alertmanager` the condition of
    Alertmanager's StatefulSet and the keys of each Secret its receivers read; `namespace_labels`
    the Pod Security labels of the stack's Namespace (as template text), when it creates one."""
    namespace = stack.namespace
    lines = [
        f"{stack.chart.name} {{{{ .Chart.Version }}}} is installed as release {{{{ .Release.Name }}}}.",
        f"Its objects live in the namespace {namespace} (fixed by the stack; --namespace does not move them).",
        "",
        "Workloads:",
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
        lines += _if(service["condition"], ["", f"{name}:", *forward])
    for tls in tls_secrets:
        lines += _if(
            tls["condition"],
            [
                "",
                f"{tls['server']} serves its API with the certificate kmc made, whose private key a chart never",
                "holds; create its Secret from the stack's state directory (before the pod can start):",
                f"  kubectl -n {namespace} create secret tls {tls['secret']} \\",
                f"    --cert={tls['state']}/tls.crt --key={tls['state']}/tls.key",
            ],
        )
    if api_services:
        lines += ["", "Aggregated APIs (each should say Available=True):", *(f"  kubectl get apiservice {name}" for name in api_services)]
    if grafana:
        condition, secret = grafana
        lines += _if(
            condition,
            [
                "",
                f"Grafana reads its admin user and password from the Secret {secret.name}, which you create",
                "(the chart holds no credential); until it exists the Grafana pod does not start:",
                f"  kubectl -n {namespace} create secret generic {secret.name} \\",
                f"    --from-literal={secret.user_key}=admin \\",
                f'    --from-literal={secret.password_key}="$(openssl rand -base64 24)" \\',
                f'    --from-literal={secret.secret_key_key}="$(openssl rand -base64 32)"',
            ],
        )
    if alertmanager:
        condition, secrets = alertmanager
        lines += _if(
            condition,
            [
                "",
                "Alertmanager's receivers read their secrets from files of these Secrets, which you create (the",
                "chart holds no webhook URL, password or key); until they exist the Alertmanager pods do not start:",
                *(
                    f"  kubectl -n {namespace} create secret generic {name}" + "".join(f" --from-literal={key}=..." for key in keys)
                    for name, keys in secrets.items()
                ),
            ],
        )
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
