"""Compare Kubernetes object streams as multisets of objects, whatever their key or file order."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser with PyYAML's safe constructor: the same objects as yaml.safe_load, ~10x faster
# on these streams of hundreds of objects.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def objects_of(texts: Iterable[str]) -> Counter[str]:
    return Counter(canonical(obj) for text in texts for obj in yaml.load_all(text, Loader=LOADER) if obj is not None)


def directory_objects(directory: Path) -> Counter[str]:
    return objects_of(path.read_text() for path in sorted(directory.glob("*.yaml")))


def chart_objects(expected: Counter[str], *, namespace: bool) -> Counter[str]:
    """The manifests' objects a Helm chart renders: all but the serving-certificate Secrets with
    their private keys (`certificates.keysInOutput`), which a chart never carries, and but the
    Namespace unless the chart is rendered with `namespace.create=true` (`namespace`)."""
    return Counter(
        {text: count for text, count in expected.items() if not _serving_secret(json.loads(text)) and (namespace or not _namespace(json.loads(text)))}
    )


# The chart value that makes a chart hold the Namespace its stack creates (off by default).
NAMESPACE_OPT_IN = ("--set", "namespace.create=true")


def namespace_opt_in(chart: Path) -> list[str]:
    """`helm` arguments rendering `chart` with its Namespace; none when its stack creates none."""
    values = yaml.safe_load((chart / "values.yaml").read_text())
    return list(NAMESPACE_OPT_IN) if "namespace" in values else []


def _namespace(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Namespace"


def _serving_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("type") == "kubernetes.io/tls" and "tls.key" in obj.get("data", {})


def difference(expected: Counter[str], actual: Counter[str]) -> str:
    """A readable account of what differs, empty when equal."""

    def name(text: str) -> str:
        obj = json.loads(text)
        return f"{obj.get('kind')}/{obj.get('metadata', {}).get('namespace', '')}/{obj.get('metadata', {}).get('name')}"

    missing = expected - actual
    extra = actual - expected
    lines = [f"missing: {name(text)}: {text[:2000]}" for text in missing] + [f"unexpected: {name(text)}: {text[:2000]}" for text in extra]
    return "\n".join(sorted(lines))


def helm_objects(text: str) -> Counter[str]:
    """The objects of `helm template` output, without the labels only the chart adds.

    Each object must carry every release label (the chart's `_helpers.tpl` adds them), and
    nothing else may differ from the manifests: the one place that says so is RELEASE_LABELS.
    """
    from kmc.emitters.helm import RELEASE_LABELS

    objects = []
    for obj in yaml.load_all(text, Loader=LOADER):
        if obj is None:
            continue
        labels = obj["metadata"]["labels"]
        missing = [label for label in RELEASE_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks the release labels {missing}"
        for label in RELEASE_LABELS:
            del labels[label]
        objects.append(canonical(obj))
    return Counter(objects)
