"""Generate a large valid stack: N extra scrape jobs and E environments (adapter rules and
dashboards join when those components exist).

    python benchmarks/large_stack.py --jobs 2000 --environments 20 > /tmp/large.yaml
"""

from __future__ import annotations

import argparse
import sys


def large_stack(jobs: int, environments: int) -> str:
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
    args = parser.parse_args()
    sys.stdout.write(large_stack(args.jobs, args.environments))


if __name__ == "__main__":
    main()
