""" "Selects nothing": a query's `job` and `metrics_path` matchers against the jobs a stack has.

A metric's name cannot be known without its exporter, but the labels a scrape job gives its
series can: `job` (the job's name, or what its relabeling writes) and, where a job writes it,
`metrics_path`. A selector whose `job`/`metrics_path` matchers no job of the stack (in an
environment) satisfies selects nothing there: an alert that can never fire, a panel that is
always empty. Queries of rules use this now; dashboards can use `unmatched` the same way.

A job whose `job` label comes from discovery (a ServiceMonitor's Service name, a `jobLabel`) is
`unknown` unless kmc knows the objects it selects: it satisfies any matcher, so nothing is
reported that might select its series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kmc.components.ingest import OPS, holds
from kmc.model import Stack
from kmc.read.document import JsonPath
from kmc.record import record

LABELS = ("job", "metrics_path")


@record
class Produced:
    """The `job` and `metrics_path` labels of one job's series: None where discovery decides ("" : no such label)."""

    job: str | None
    metrics_path: str | None = ""

    def describe(self) -> str:
        job = "(from discovery)" if self.job is None else self.job
        return job if not self.metrics_path else f"{job} (metrics_path={self.metrics_path})"


def produced(job: Mapping[str, Any], known: Mapping[str, tuple[str, ...]] | None = None) -> list[Produced]:
    """What the scrape config `job` labels its series with; `known`: by job name, the job label
    values of a job whose relabeling reads them from discovery, where kmc knows them."""
    value: str | None = job["job_name"]
    path: str | None = ""
    for step in job.get("relabel_configs", ()):
        target = step.get("target_label")
        if target not in LABELS or step.get("action", "replace") != "replace":
            continue
        if step.get("source_labels"):
            written = job.get("metrics_path", "/metrics") if step["source_labels"] == ["__metrics_path__"] and target == "metrics_path" else None
        else:
            written = str(step.get("replacement", "$1"))
        if target == "job":
            value = written
        else:
            path = written
    if value is None and known and job["job_name"] in known:
        return [Produced(name, path) for name in known[job["job_name"]]]
    return [Produced(value, path)]


def _holds(op: str, wanted: str, value: str | None) -> bool:
    """Whether a job's label `value` (None: decided by discovery, so anything) satisfies the matcher."""
    return value is None or holds(op, wanted, value)


def _matcher_sets(selector: Any) -> list[list[tuple[str, str, str]]]:
    """The selector's alternatives (PromQL's `or` between matcher sets), each its (label, op, value) matchers on LABELS."""
    matchers = selector.matchers
    sets = [list(matchers.matchers)] + [list(alternative) for alternative in (matchers.or_matchers or ())]
    return [[(m.name, OPS[str(m.op)], m.value) for m in found if m.name in LABELS] for found in sets]


def unmatched(expr: str, jobs: Sequence[Produced]) -> list[str]:
    """The selectors of `expr` whose `job`/`metrics_path` matchers no job of `jobs` satisfies, as written."""
    import promql_parser

    try:
        tree = promql_parser.parse(expr)
    except ValueError:
        return []  # reported where PromQL is checked
    found: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            sets = [matchers for matchers in _matcher_sets(node) if matchers]
            if sets and not any(any(_satisfies(matchers, job) for job in jobs) for matchers in sets):
                found.append(_spelled(node))
        return True

    promql_parser.walk(tree, visit)
    return found


def _satisfies(matchers: Iterable[tuple[str, str, str]], job: Produced) -> bool:
    values = {"job": job.job, "metrics_path": job.metrics_path}
    return all(_holds(op, value, values[label]) for label, op, value in matchers)


def _spelled(node: Any) -> str:
    text = str(node.prettify()).strip()
    return text


def listed(jobs: Sequence[Produced]) -> str:
    """The jobs, as a hint lists them."""
    names = sorted({job.describe() for job in jobs})
    return ", ".join(names) if names else "none"


def environment_jobs(stack: Stack) -> dict[str | None, list[Produced]]:
    """By environment (None: the stack's own values), what the stack's jobs label their series with:
    an exporter some environment switches off has no job there."""
    from kmc.components import facts
    from kmc.components.scrape_jobs import scrape_configs
    from kmc.ir import lookup

    targets = facts(stack).service_targets
    jobs = scrape_configs(stack, targets)
    labels = [(job["job_name"], produced(job, stack.monitors.job_values)) for job in jobs]
    recorded = [Produced(job) for job in _recorded_jobs(stack)]
    out: dict[str | None, list[Produced]] = {}
    for env in (None, *stack.environments):
        off = {target.job for target in targets if target.switch and not lookup(stack.values(env), target.switch)}
        out[env] = [*(found for name, each in labels if name not in off for found in each), *recorded]
    return out


def _recorded_jobs(stack: Stack) -> list[str]:
    """The `job` labels recording rules of the stack and of imported PrometheusRules set on their series."""
    from kmc.components.rule_packs import read_rule_file

    groups = [*stack.rules.groups, *(group for text in stack.monitors.rule_files.values() for group in read_rule_file(text)["groups"])]
    return sorted({str(rule["labels"]["job"]) for group in groups for rule in group["rules"] if "record" in rule and "job" in rule.get("labels", {})})


def rule_problems(rules: Iterable[tuple[JsonPath, str, str]], jobs: Mapping[str | None, Sequence[Produced]]) -> list[tuple[JsonPath, str, str]]:
    """(path, message, hint) for each selector of `rules` ((path, rule name, expression)) that selects
    nothing in some environment of `jobs`; environments that agree are reported once."""
    problems = []
    for path, name, expr in rules:
        by_selector: dict[str, list[str | None]] = {}
        for env, produced_there in jobs.items():
            for selector in unmatched(expr, produced_there):
                by_selector.setdefault(selector, []).append(env)
        for selector, envs in by_selector.items():
            where = "" if envs == list(jobs) else " in " + ", ".join("the stack's own values" if env is None else f"environment {env!r}" for env in envs)
            problems.append(
                (
                    path,
                    f"{name} selects {selector}, which no scrape job of the stack produces{where}",
                    f"the jobs' labels: {listed(jobs[envs[0]])}; fix the job or metrics_path matcher (scrape.jobNames decides kmc's names)",
                )
            )
    return problems


def stack_rule_problems(stack: Stack) -> list[tuple[JsonPath, str, str]]:
    """Selectors of kmc's rule packs (as the stack renders them) and of `rules.groups` that select nothing."""
    from kmc.components import rule_packs
    from kmc.ir import lookup

    jobs = environment_jobs(stack)
    packs = rule_packs.active_packs(stack, rule_packs.library())
    switches = rule_packs.group_switches(stack, rule_packs.library()) if packs else {}
    problems = []
    rules: list[tuple[JsonPath, str, str]]
    for name, pack in packs.items():
        data = rule_packs.pack_file(pack, stack.rules.overrides, stack.rules.disabled, stack.scrape.job_names)
        for group in data["groups"]:
            switch = switches.get(f"{name}.yaml", {}).get(group["name"])
            there = {env: found for env, found in jobs.items() if switch is None or lookup(stack.values(env), switch)}
            rules = [
                (("rules", "packs", name), f"kmc's rule {rule.get('alert') or rule.get('record')!r} (pack {name!r})", rule["expr"]) for rule in group["rules"]
            ]
            problems += rule_problems(rules, there)
    for index, group in enumerate(stack.rules.groups):
        rules = [
            (("rules", "groups", index, "rules", position, "expr"), f"rule {rule.get('alert') or rule.get('record')!r}", str(rule["expr"]))
            for position, rule in enumerate(group["rules"])
        ]
        problems += rule_problems(rules, jobs)
    return problems
