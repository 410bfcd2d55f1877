"""A job's ingest `used` (kmc.components.ingest decides it) and the `metric_relabel_configs` it
compiles to: a `keep` of the names read, a `drop` of what every selector of a name excludes, and
the marking steps that drop the series of a name no selector selects (a temporary label, removed
by a `labeldrop`: Prometheus stores any label metric relabeling leaves, `__` or not).

A name some of whose selectors exclude values (`verb!~"WATCH|CONNECT"`) and others select them
positively is marked selector by selector: a second temporary label is set where the selector's
positive matchers hold, deleted again (a `replace` whose result is empty deletes its target) where
one of its exclusions holds, and what is left of it sets the mark.

Apart from the analysis, so that the Prometheus component builds the steps from the plans the
validation stage made without importing what made them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from kmc.record import field, record

MARK = "__tmp_kmc_used"  # the temporary label of the steps that drop the series no selector selects
SELECTS = "__tmp_kmc_selects"  # the temporary label of one selector's steps (a conditioned name's)


@record
class Plan:
    """One owned job's ingest `used`: the names and name regexes it keeps, or why it keeps all."""

    job: str
    names: tuple[str, ...]  # literal metric names, sorted
    patterns: tuple[str, ...]  # `__name__` regexes, sorted
    refined: Mapping[str, tuple[tuple[tuple[str, str], ...], ...]]  # name → its selectors' positive matchers
    # name → the (label, excluded values) every selector of the name excludes
    excluded: Mapping[str, tuple[tuple[str, str], ...]] = field(default=MappingProxyType({}))
    # name → its selectors as (positive matchers, excluded values), where some exclude and none reads all
    conditioned: Mapping[str, tuple[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], ...]] = field(default=MappingProxyType({}))
    keeps_all: str | None = None  # why the job cannot be keep-listed
    # A job of the workloads' (an annotation or extra job) the stack opted in by name: the stack-wide default does not reach it.
    opted_in: bool = False


def quote_meta(text: str) -> str:
    """`text` as an RE2 regex matching exactly it, as Go's regexp.QuoteMeta writes it."""
    return "".join(f"\\{char}" if char in _META else char for char in text)


_META = frozenset("\\.+*?()|[]{}^$")


def _alternation(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "|".join(items)


def steps(found: Plan, keep: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The `metric_relabel_configs` of a keep-listed job (none for one that keeps all)."""
    if found.keeps_all is not None:
        return []
    kept = sorted({*(quote_meta(name) for name in (*found.names, *keep)), *(f"(?:{pattern})" for pattern in found.patterns)})
    if not kept:  # no query reads the job: only its `up` (written without metric relabeling) stays
        return [{"action": "drop", "source_labels": ["__name__"], "regex": ".+"}]
    out: list[dict[str, Any]] = [{"action": "keep", "source_labels": ["__name__"], "regex": _alternation(kept)}]
    out += _exclusions({name: pairs for name, pairs in found.excluded.items() if name not in keep})
    refined = {name: rows for name, rows in found.refined.items() if name not in keep}
    conditioned = {name: readers for name, readers in found.conditioned.items() if name not in keep}
    if not refined and not conditioned:
        return out
    by_labels: dict[tuple[str, ...], set[str]] = {}
    for name, rows in refined.items():
        for row in rows:
            labels = tuple(label for label, _ in row)
            by_labels.setdefault(labels, set()).add(";".join([quote_meta(name), *(value for _, value in row)]))
    for labels, alternatives in sorted(by_labels.items()):
        out.append(
            {"action": "replace", "source_labels": ["__name__", *labels], "regex": _alternation(sorted(alternatives)), "target_label": MARK, "replacement": "1"}
        )
    for name, readers in sorted(conditioned.items()):
        for row, exclusions in readers:
            out += _selector_steps(quote_meta(name), row, exclusions)
    marked = sorted(quote_meta(name) for name in {*refined, *conditioned})
    names = _alternation(marked)
    out.append({"action": "drop", "source_labels": ["__name__", MARK], "regex": f"(?:{names});" if len(marked) > 1 else f"{names};"})
    out.append({"action": "labeldrop", "regex": MARK})
    return out


def _selector_steps(name: str, row: tuple[tuple[str, str], ...], exclusions: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """Mark the series of `name` one selector selects: its positive matchers `row`, none of its `exclusions`."""
    labels = [label for label, _ in row]
    out: list[dict[str, Any]] = [
        {
            "action": "replace",
            "source_labels": ["__name__", *labels],
            "regex": ";".join([name, *(value for _, value in row)]),
            "target_label": SELECTS,
            "replacement": "1",
        }
    ]
    out += [
        {"action": "replace", "source_labels": ["__name__", label], "regex": f"{name};{regex}", "target_label": SELECTS, "replacement": ""}
        for label, regex in exclusions
    ]
    out.append({"action": "replace", "source_labels": [SELECTS], "regex": "1", "target_label": MARK, "replacement": "1"})
    out.append({"action": "labeldrop", "regex": SELECTS})
    return out


def _exclusions(excluded: Mapping[str, tuple[tuple[str, str], ...]]) -> list[dict[str, Any]]:
    """A `drop` per label of the series every selector of their name excludes (`device!~"veth.+"`)."""
    by_label: dict[str, set[str]] = {}
    for name, pairs in excluded.items():
        for label, regex in pairs:
            by_label.setdefault(label, set()).add(f"{quote_meta(name)};{regex}")
    return [{"action": "drop", "source_labels": ["__name__", label], "regex": _alternation(sorted(rows))} for label, rows in sorted(by_label.items())]


def families(found: Plan, keep: Sequence[str] = ()) -> int | None:
    """How many metric families (names and name regexes) a job's ingest `used` keeps; None where it keeps all."""
    return None if found.keeps_all is not None else len({*found.names, *keep}) + len(found.patterns)


def describe(found: Plan, keep: Sequence[str] = ()) -> str:
    """What a job's ingest `used` keeps, as a line a person reads."""
    if found.keeps_all is not None:
        return f"keeps all series: {found.keeps_all}"
    kept = families(found, keep)
    if not kept:
        return "keeps no metric family: no query reads one (its `up` stays)"
    narrowed = len({*found.refined, *found.excluded, *found.conditioned} - set(keep))
    detail = f", {narrowed} of them narrowed to the series a query selects" if narrowed else ""
    return f"keeps {kept} metric {'family' if kept == 1 else 'families'}{detail}"
