"""The checks of `prometheus.features` (kmc.components.prometheus_features): each `enable` name is
one the image's Prometheus release acts on and not one kmc spells itself, and every environment's
image reads the flags kmc emits the same way."""

from __future__ import annotations

from collections.abc import Iterator

from kmc.components.prometheus_features import FEATURES, RESERVED, majors
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]


def problems(stack: Stack) -> Iterator[Problem]:
    features = stack.prometheus.features
    if features is None:
        return
    found = majors(stack)
    version = found[None]
    known = FEATURES.get(version, FEATURES[max(FEATURES)])
    for index, name in enumerate(features.enable):
        where: JsonPath = ("prometheus", "features", "enable", index)
        if name in RESERVED:
            yield where, f"feature {name} is not for prometheus.features.enable", RESERVED[name]
        elif name not in known:
            import difflib  # only to explain a mistake

            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else f"Prometheus {version}.x knows: {', '.join(sorted(known))}"
            yield where, f"Prometheus {version}.x has no feature {name}", hint
    if features.otlp_receiver:
        for env, other in found.items():
            if env is not None and (other >= 3) != (version >= 3):
                yield (
                    ("environments", env, "prometheus", "image"),
                    f"environment {env!r} runs Prometheus {other}.x, the stack {version}.x: they turn on the OTLP receiver with different flags",
                    "run one Prometheus major in every environment while prometheus.features.otlpReceiver is on",
                )
