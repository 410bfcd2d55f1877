"""`prometheus.features`: the receivers and feature flags a stack turns on, spelt as the Prometheus
major of its image reads them.

Read at the pinned tags (cmd/prometheus/main.go): v2.53.x takes `--web.enable-remote-write-receiver`
and the feature flags `otlp-write-receiver` and `native-histograms`; v3.5.x takes
`--web.enable-remote-write-receiver`, `--web.enable-otlp-receiver` (the `otlp-write-receiver`
feature is gone: 3.x only logs "Unknown option" and leaves the endpoint off) and still
`native-histograms`. An unknown feature name is only a warning in the log, so kmc checks the names
itself against each release's list (FEATURES).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kmc.model import Stack

DEFAULT_MAJOR = 3  # kmc's default image is 3.x; a tag that is no version is read as it
_MAJOR = re.compile(r"v?(\d+)\.\d+\.\d+")

# The `--enable-feature` names each major's pinned release acts on (v2.53.3 and v3.5.0, main.go's
# setFeatureListOptions), no-ops included.
FEATURES: Mapping[int, frozenset[str]] = {
    2: frozenset(
        {
            "agent",
            "auto-gomaxprocs",
            "auto-gomemlimit",
            "concurrent-rule-eval",
            "created-timestamp-zero-ingestion",
            "exemplar-storage",
            "expand-external-labels",
            "extra-scrape-metrics",
            "memory-snapshot-on-shutdown",
            "native-histograms",
            "new-service-discovery-manager",
            "no-default-scrape-port",
            "otlp-write-receiver",
            "promql-at-modifier",
            "promql-experimental-functions",
            "promql-negative-offset",
            "promql-per-step-stats",
            "remote-write-receiver",
        }
    ),
    3: frozenset(
        {
            "auto-reload-config",
            "concurrent-rule-eval",
            "created-timestamp-zero-ingestion",
            "delayed-compaction",
            "exemplar-storage",
            "extra-scrape-metrics",
            "memory-snapshot-on-shutdown",
            "metadata-wal-records",
            "native-histograms",
            "old-ui",
            "ooo-native-histograms",
            "otlp-deltatocumulative",
            "otlp-native-delta-ingestion",
            "promql-delayed-name-removal",
            "promql-duration-expr",
            "promql-experimental-functions",
            "promql-per-step-stats",
            "type-and-unit-labels",
            "use-uncached-io",
        }
    ),
}

# Feature names `enable` may not carry, and why: kmc spells them itself, or relies on them off.
RESERVED: Mapping[str, str] = {
    "agent": "agent mode evaluates no rules and answers no queries, which the stack's rules, Grafana and prometheus-adapter need",
    "expand-external-labels": "kmc sets it itself where its external labels need it (prometheus.ha)",
    "native-histograms": "set prometheus.features.nativeHistograms",
    "otlp-write-receiver": "set prometheus.features.otlpReceiver (kmc spells it for the image's major)",
    "remote-write-receiver": "set prometheus.features.remoteWriteReceiver",
}


def major(image: str) -> int:
    """The Prometheus major of an image reference (DEFAULT_MAJOR when its tag is no version)."""
    name = image.rsplit("/", 1)[-1]
    tag = name.partition(":")[2] if "@" not in name else ""
    found = _MAJOR.match(tag)
    return int(found.group(1)) if found else DEFAULT_MAJOR


def majors(stack: Stack) -> dict[str | None, int]:
    """The Prometheus major of the stack's image (key None) and of each environment's."""
    return {env: major(str(stack.values(env)["prometheus"]["image"])) for env in (None, *stack.environments)}


def args(stack: Stack) -> list[str]:
    """The flags of `prometheus.features` for the stack's Prometheus major (kmc.check.features
    refuses environments whose majors would need different flags)."""
    features = stack.prometheus.features
    if features is None:
        return []
    version = majors(stack)[None]
    flags = []
    names = list(features.enable)
    if features.remote_write_receiver:
        flags.append("--web.enable-remote-write-receiver")
    if features.otlp_receiver:
        if version >= 3:
            flags.append("--web.enable-otlp-receiver")
        else:
            names.append("otlp-write-receiver")
    if features.native_histograms:
        names.append("native-histograms")
    if names:
        flags.append("--enable-feature=" + ",".join(sorted(names)))
    return flags
