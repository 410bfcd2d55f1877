"""Generate a large valid stack: N extra scrape jobs, R prometheus-adapter rules (a mix of custom
and external intents and raw rules, each mapping only labels some job gives its series, with a few
HPAs on them), E environments and D Grafana dashboard files.

    python benchmarks/large_stack.py --jobs 2000 --adapter-rules 1000 --environments 20 --dashboards 200 --out /tmp/large
    # writes /tmp/large/stack.yaml and /tmp/large/dashboards/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def write_large_stack(directory: Path, jobs: int, environments: int, dashboards: int, adapter_rules: int = 0) -> Path:
    """Write the stack and its dashboard files into `directory`; the stack's path."""
    (directory / "dashboards").mkdir(parents=True, exist_ok=True)
    for index in range(dashboards):
        (directory / "dashboards" / f"board-{index:04d}.json").write_text(json.dumps(dashboard(index), indent=2) + "\n")
    stack = directory / "stack.yaml"
    stack.write_text(large_stack(jobs, environments, dashboards, adapter_rules))
    return stack


def dashboard(index: int) -> dict[str, object]:
    """A small dashboard of two panels on the stack's Prometheus."""
    source = {"type": "prometheus", "uid": "kmc-prometheus"}
    panels = [
        {
            "id": panel,
            "type": "timeseries",
            "title": f"Requests {panel} of service {index}",
            "gridPos": {"h": 8, "w": 12, "x": 12 * (panel - 1), "y": 0},
            "datasource": source,
            "targets": [{"refId": "A", "datasource": source, "expr": f'sum by (code) (rate(http_requests_total{{service="svc-{index}"}}[5m]))'}],
        }
        for panel in (1, 2)
    ]
    return {"title": f"Service {index:04d}", "uid": f"svc-{index:04d}", "tags": ["generated"], "schemaVersion": 39, "panels": panels}


# Job N gives its series the labels of RESOURCES[N % 4] (and `namespace`), so adapter rules can map them.
RESOURCES = ("pod", "service", "node", "namespace")


def large_stack(jobs: int, environments: int, dashboards: int = 0, adapter_rules: int = 0) -> str:
    if adapter_rules and not jobs:
        raise SystemExit("adapter rules map the labels of the generated jobs: give --jobs too")
    lines = ["version: 1", "namespace: monitoring", "prometheus:", "  storage: {size: 100Gi}", "scrape:", "  extraJobs:"]
    for index in range(jobs):
        resource = RESOURCES[index % 4]
        mapped = f", {resource}: {resource}-{index:05d}" if resource != "namespace" else ""
        lines += [
            f"    - job_name: static-{index:05d}",
            "      metrics_path: /metrics",
            "      static_configs:",
            f"        - targets: ['10.{index // 250 % 256}.{index % 250}.1:9100', 'host-{index:05d}.example.net:9100']",
            f"          labels: {{team: team-{index % 17}, tier: t{index % 3}, namespace: team-{index % 17}{mapped}}}",
            "      relabel_configs:",
            "        - source_labels: [__address__]",
            "          regex: '(.*):9100'",
            "          target_label: host",
            "          replacement: '$1'",
        ]
    if adapter_rules:
        lines += adapter(adapter_rules, jobs)
    if dashboards:
        lines += ["grafana:", "  enabled: true", "  adminSecret: {name: grafana-admin}", "  dashboards:", "    files:"]
        lines += [f"      - {{file: dashboards/board-{index:04d}.json, folder: Generated}}" for index in range(dashboards)]
    lines.append("environments:")
    for index in range(environments):
        lines += [
            f"  env-{index:03d}:",
            f"    prometheus: {{replicas: {1 + index % 3}, retention: {index + 1}d, nodeSelector: {{pool: p{index}}}}}",
            f"    kubeStateMetrics: {{enabled: {'true' if index % 2 else 'false'}}}",
        ]
    return "\n".join(lines) + "\n"


def adapter(rules: int, jobs: int) -> list[str]:
    """`prometheusAdapter` with `rules` rules, by rule index: 0 to 4 custom intents, 5 to 7 external
    intents, 8 a raw custom rule, 9 a raw external one (of every ten); and HPAs on the first few."""
    custom: list[str] = []
    external: list[str] = []
    raw_custom: list[str] = []
    raw_external: list[str] = []
    scaled: dict[str, list[str]] = {}
    for index in range(rules):
        job = index % jobs
        resource = RESOURCES[job % 4]
        # Half the intents name their job, half leave it open (any job giving the labels will do).
        named = f", job: static-{job:05d}" if index % 20 < 10 else ""
        kind = index % 10
        if kind < 5:
            shape = f"type: rate, window: {1 + index % 5}m" if index % 2 else f"type: gauge, aggregation: {('max', 'avg', 'min', 'sum')[index % 4]}"
            custom.append(f"    - {{name: app_{resource}_{index:05d}, series: app_{index:05d}_total, resource: {resource}, {shape}{named}}}")
            scaled.setdefault(resource, []).append(f"app_{resource}_{index:05d}")
        elif kind < 8:
            namespaced = "true" if index % 2 else "false"
            external.append(f"    - {{name: queue_{index:05d}, series: queue_{index:05d}_depth, namespaced: {namespaced}, aggregation: max{named}}}")
            scaled.setdefault("external", []).append(f"queue_{index:05d}")
        elif kind == 8:
            labels = ("namespace", resource) if resource != "namespace" else ("namespace",)
            present = ",".join(f'{label}!=""' for label in labels)
            overrides = ", ".join(f"{label}: {{resource: {label}}}" for label in labels)
            raw_custom += [
                f"      - seriesQuery: 'raw_{index:05d}_seconds_total{{{present},job=\"static-{job:05d}\"}}'",
                f"        resources: {{overrides: {{{overrides}}}}}",
                f"        name: {{matches: '^raw_{index:05d}_(.*)_total$', as: 'raw_{index:05d}_per_${{1}}'}}",
                "        metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)'",
            ]
        else:
            raw_external += [
                f"      - seriesQuery: 'lag_{index:05d}{{group!=\"\"}}'",
                "        resources: {namespaced: false}",
                f"        name: {{matches: '^lag_{index:05d}$', as: consumer_lag_{index:05d}}}",
                "        metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>}) by (group)'",
            ]
    lines = ["prometheusAdapter:", "  enabled: true", "  tls: {mode: cert-manager}"]
    for key, written in (("customMetrics", custom), ("externalMetrics", external)):
        if written:
            lines += [f"  {key}:", *written]
    if raw_custom or raw_external:
        lines.append("  rules:")
        lines += ["    custom:", *raw_custom] if raw_custom else []
        lines += ["    external:", *raw_external] if raw_external else []
    return lines + autoscalers(scaled)


def autoscalers(scaled: dict[str, list[str]]) -> list[str]:
    """A few HPAs, each on some of the generated metrics."""
    lines = ["autoscaling:"] if scaled else []
    for index in range(min(5, min(len(names) for names in scaled.values()) if scaled else 0)):
        metrics = []
        if "pod" in scaled:
            metrics.append(f"{{pods: {scaled['pod'][index]}, averageValue: '50'}}")
        if "service" in scaled:
            metrics.append(f"{{object: {{metric: {scaled['service'][index]}, kind: Service, name: web-{index}}}, value: '200'}}")
        if "external" in scaled:
            metrics.append(f"{{external: {scaled['external'][index]}, averageValue: '30'}}")
        lines += [
            f"  - name: web-{index}",
            "    namespace: shop",
            f"    target: {{kind: Deployment, name: web-{index}}}",
            "    maxReplicas: 10",
            "    metrics:",
            *(f"      - {metric}" for metric in metrics),
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--environments", type=int, default=20)
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--adapter-rules", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True, help="directory for stack.yaml and dashboards/")
    args = parser.parse_args()
    print(write_large_stack(args.out, args.jobs, args.environments, args.dashboards, args.adapter_rules))


if __name__ == "__main__":
    main()
