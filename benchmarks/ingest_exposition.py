"""Time-gridded exposition payloads: families of series whose gauges hold still and whose
counters grow linearly, every sample carrying an explicit timestamp on the grid.

Two Prometheus servers scraping the same payload at any moments within one grid step ingest the
same samples, so their answers to the same query at the same time agree; and because counters
are linear, `rate()` over any window holding two grid points returns each series' rate exactly,
whenever a rule group happens to evaluate it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

Kind = Literal["counter", "gauge", "histogram", "summary", "untyped"]
DAY = 86400.0


def labels_text(labels: Mapping[str, str]) -> str:
    """`{a="x",b="y"}` in the given order (the exposition format's escaping); empty values kept, as exporters write them."""
    if not labels:
        return ""
    escaped = (value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for value in labels.values())
    return "{" + ",".join(f'{key}="{value}"' for key, value in zip(labels, escaped, strict=True)) + "}"


@dataclasses.dataclass
class Family:
    """One metric family: its samples as (series text, value at the origin, growth per second)."""

    name: str
    kind: Kind
    help: str
    samples: list[tuple[str, float, float]] = dataclasses.field(default_factory=list)

    def gauge(self, labels: Mapping[str, str], value: float) -> None:
        self.samples.append((self.name + labels_text(labels), value, 0.0))

    def counter(self, labels: Mapping[str, str], per_second: float, *, days: float = 1.0) -> None:
        """A counter that has grown at `per_second` for `days` before the origin."""
        self.samples.append((self.name + labels_text(labels), per_second * DAY * days, per_second))

    def histogram(self, labels: Mapping[str, str], buckets: Sequence[float], per_second: float, mean: float) -> None:
        """Cumulative buckets of observations at `per_second` with an exponential distribution of `mean`."""
        for bound in (*buckets, math.inf):
            share = 1.0 if math.isinf(bound) else 1.0 - math.exp(-bound / mean)
            le = "+Inf" if math.isinf(bound) else _number(bound)
            self.samples.append((f"{self.name}_bucket" + labels_text({**labels, "le": le}), share * per_second * DAY, share * per_second))
        self.samples.append((f"{self.name}_sum" + labels_text(labels), mean * per_second * DAY, mean * per_second))
        self.samples.append((f"{self.name}_count" + labels_text(labels), per_second * DAY, per_second))


def _number(value: float) -> str:
    return repr(value) if value != int(value) else f"{int(value)}"


@dataclasses.dataclass
class Payload:
    """What one exporter serves, prepared once; `render(t)` is the body at grid time `t` (seconds since the origin)."""

    families: list[Family]

    def __post_init__(self) -> None:
        self._header = {family.name: f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n" for family in self.families}

    def render(self, elapsed: float, timestamp_ms: int) -> bytes:
        out: list[str] = []
        stamp = f" {timestamp_ms}\n"
        for family in self.families:
            out.append(self._header[family.name])
            out.extend(f"{series} {_value(base + rate * elapsed)}{stamp}" for series, base, rate in family.samples)
        return "".join(out).encode("utf-8")

    def series_count(self) -> int:
        return sum(len(family.samples) for family in self.families)


def _value(value: float) -> str:
    return repr(value)


def merged(*groups: Iterable[Family]) -> Payload:
    return Payload([family for group in groups for family in group])
