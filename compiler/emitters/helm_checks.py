"""What the chart checks in its values beyond the stack schema's fragments.

kmc refuses these in a stack; a chart's user sets values at install time, past kmc. So:
- what JSON Schema can say goes into values.schema.json (`bounds`): the node-port range comes
  from the stack schema itself; a bound that depends on a compile-time choice (metrics-server's
  highAvailability needs 2 replicas) is written into this chart's schema;
- what needs two values at once (two Services on one node port, a node port on a ClusterIP
  Service) is a template that renders nothing and stops Helm with `fail` (`template`).
"""

from __future__ import annotations

from typing import Any

from kmc.model import Stack

NAME = "templates/values-checks.yaml"
# The Services whose node port is a value: (values section, whose node port a message says it is).
NODE_PORT_SERVICES = (("prometheus", "Prometheus'"), ("grafana", "Grafana's"), ("alertmanager", "Alertmanager's"))


def bounds(values_schema: dict[str, Any], stack: Stack, used: frozenset[str]) -> None:
    """Write into `values_schema` the bounds this stack's compile-time choices put on its values."""
    if stack.metrics_server.high_availability and "metricsServer.replicas" in used:
        replicas = values_schema["properties"]["metricsServer"]["properties"]["replicas"]
        replicas["minimum"] = max(2, replicas.get("minimum", 2))
        replicas["description"] = replicas.get("description", "") + " This chart's metrics-server has highAvailability: at least 2."


def template(used: frozenset[str]) -> str | None:
    """The checks template of a chart whose templates read `used`, or None when it needs none."""
    services = [(section, label) for section, label in NODE_PORT_SERVICES if f"{section}.service.nodePort" in used]
    if not services:
        return None
    lines = [
        "{{- /* Checks of values that values.schema.json cannot express; renders nothing, or stops Helm. */}}",
        "{{- $taken := dict }}",
    ]
    for section, label in services:
        values = f"$.Values.{section}"
        enabled = f"{values}.enabled" if f"{section}.enabled" in used else "true"
        lines += [
            f"{{{{- if {enabled} }}}}{{{{- with {values}.service.nodePort }}}}",
            "{{- $port := toString (int64 .) }}",
            f'{{{{- if ne {values}.service.type "NodePort" }}}}',
            f'{{{{- fail (printf "{section}.service.nodePort %s is set, but {section}.service.type is %s: set type NodePort, or remove the node port" $port {values}.service.type) }}}}',
            "{{- end }}",
            "{{- if hasKey $taken $port }}",
            f'{{{{- fail (printf "{section}.service.nodePort %s is %s node port too: two Services cannot share a node port" $port (get $taken $port)) }}}}',
            "{{- end }}",
            f'{{{{- $_ := set $taken $port "{label}" }}}}',
            "{{- end }}{{- end }}",
        ]
    return "\n".join(lines) + "\n"
