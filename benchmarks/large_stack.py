"""Generate a large valid stack: N extra scrape jobs, E environments and D Grafana dashboard
files (adapter rules join when the prometheus-adapter component exists).

    python benchmarks/large_stack.py --jobs 2000 --environments 20 --dashboards 200 --out /tmp/large
    # writes /tmp/large/stack.yaml and /tmp/large/dashboards/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def write_large_stack(directory: Path, jobs: int, environments: int, dashboards: int) -> Path:
    """Write the stack and its dashboard files into `directory`; the stack's path."""
    (directory / "dashboards").mkdir(parents=True, exist_ok=True)
    for index in range(dashboards):
        (directory / "dashboards" / f"board-{index:04d}.json").write_text(json.dumps(dashboard(index), indent=2) + "\n")
    stack = directory / "stack.yaml"
    stack.write_text(large_stack(jobs, environments, dashboards))
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


def large_stack(jobs: int, environments: int, dashboards: int = 0) -> str:
    lines = ["version: 1", "namespace: monitoring", "prometheus:", "  storage: {size: 100Gi}", "scrape:", "  extraJobs:"]
    for index in range(jobs):
        lines += [
            f"    - job_name: static-{index:05d}",
            "      metrics_path: /metrics",
            "      static_configs:",
            f"        - targets: ['10.{index // 250 % 256}.{index % 250}.1:9100', 'host-{index:05d}.example.net:9100']",
            f"          labels: {{team: team-{index % 17}, tier: t{index % 3}}}",
            "      relabel_configs:",
            "        - source_labels: [__address__]",
            "          regex: '(.*):9100'",
            "          target_label: host",
            "          replacement: '$1'",
        ]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--environments", type=int, default=20)
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True, help="directory for stack.yaml and dashboards/")
    args = parser.parse_args()
    print(write_large_stack(args.out, args.jobs, args.environments, args.dashboards))


if __name__ == "__main__":
    main()
