"""The one table of the `job` labels kmc's Kubernetes component jobs carry, in each naming mode.

`scrape.jobNames: kmc` labels every job's series with its own job name. `kube-prometheus` labels
them as kube-prometheus-stack's ServiceMonitors do (its chart's `jobLabel`s and the kubelet
ServiceMonitor's `metrics_path` relabeling): the kubelet's three paths are one job, `kubelet`,
told apart by a `metrics_path` label; etcd is `kube-etcd`. Prometheus needs unique job names in
its config, so the config's `job_name` stays kmc's and a relabel step writes the label.

Rules, dashboards and the adapter's queries name these jobs through `matchers` (in the rule
library: `${job:KEY}`), never by a literal name, so they hold in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kmc.record import record

MODES = ("kmc", "kube-prometheus")
# A rule library expression's reference to a job of this table: `${job:cadvisor}`.
REFERENCE = re.compile(r"\$\{job:([a-z-]+)\}")


@record
class JobLabel:
    """What a job's series carry: `job`, and with `metrics_path` that label too."""

    job: str
    metrics_path: str | None = None


# By kmc's job name (the config's `job_name`), the labels each mode gives its series.
TABLE: Mapping[str, Mapping[str, JobLabel]] = {
    "apiserver": {"kmc": JobLabel("apiserver"), "kube-prometheus": JobLabel("apiserver")},
    "kubelet": {"kmc": JobLabel("kubelet"), "kube-prometheus": JobLabel("kubelet", "/metrics")},
    "cadvisor": {"kmc": JobLabel("cadvisor"), "kube-prometheus": JobLabel("kubelet", "/metrics/cadvisor")},
    "kube-controller-manager": {"kmc": JobLabel("kube-controller-manager"), "kube-prometheus": JobLabel("kube-controller-manager")},
    "kube-scheduler": {"kmc": JobLabel("kube-scheduler"), "kube-prometheus": JobLabel("kube-scheduler")},
    "kube-proxy": {"kmc": JobLabel("kube-proxy"), "kube-prometheus": JobLabel("kube-proxy")},
    "coredns": {"kmc": JobLabel("coredns"), "kube-prometheus": JobLabel("coredns")},
    "etcd": {"kmc": JobLabel("etcd"), "kube-prometheus": JobLabel("kube-etcd")},
    "node-exporter": {"kmc": JobLabel("node-exporter"), "kube-prometheus": JobLabel("node-exporter")},
    "kube-state-metrics": {"kmc": JobLabel("kube-state-metrics"), "kube-prometheus": JobLabel("kube-state-metrics")},
}


def label(job_name: str, mode: str) -> JobLabel:
    """The labels the job `job_name` gives its series in `mode` (a job outside the table: its name)."""
    entry = TABLE.get(job_name)
    return entry[mode] if entry is not None else JobLabel(job_name)


def matchers(job_name: str, mode: str) -> str:
    """The PromQL label matchers that select the series of job `job_name` in `mode`."""
    found = label(job_name, mode)
    text = f'job="{found.job}"'
    return text if found.metrics_path is None else f'{text}, metrics_path="{found.metrics_path}"'


def relabeling(job_name: str, mode: str) -> list[dict[str, Any]]:
    """The relabel steps that write the mode's labels where they differ from the job name."""
    found = label(job_name, mode)
    steps: list[dict[str, Any]] = []
    if found.job != job_name:
        steps.append({"action": "replace", "replacement": found.job, "target_label": "job"})
    if found.metrics_path is not None:
        steps.append({"action": "replace", "source_labels": ["__metrics_path__"], "target_label": "metrics_path"})
    return steps


def expand(text: str, mode: str) -> str:
    """A rule library expression with its `${job:KEY}` references written out for `mode`."""
    return REFERENCE.sub(lambda match: matchers(match.group(1), mode), text)


# A literal job matcher inside JSON text (a library dashboard's queries): `job=\"cadvisor\"`.
_IN_JSON = re.compile(r'job=\\"([a-z-]+)\\"')


def rename_in_json(text: str, mode: str) -> str:
    """JSON text (a library dashboard) with its literal matchers of this table's jobs written for
    `mode`: the dashboard library names jobs as mode `kmc` does."""
    if mode == "kmc":
        return text

    def renamed(match: re.Match[str]) -> str:
        return matchers(match.group(1), mode).replace('"', '\\"') if match.group(1) in TABLE else match.group(0)

    return _IN_JSON.sub(renamed, text)
