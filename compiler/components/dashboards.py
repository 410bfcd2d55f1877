"""Grafana dashboards: kmc's library and the stack's own files, read and checked at compile time.

Each dashboard becomes one ConfigMap, so it is checked here, where a problem can still point at
the stack line that named it: the file exists and is a dashboard, every datasource it refers to
is provisioned (after the stack's uid replacements), and its ConfigMap fits in what
`kubectl apply` can record in its last-applied annotation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kmc.components import dashboard_needs, job_names
from kmc.components.base import PROMETHEUS_SWITCH
from kmc.model import Dashboard, Stack
from kmc.read import inputs
from kmc.read.document import JsonPath
from kmc.record import replace
from kmc.resources import data_dir

PROMETHEUS_UID = "kmc-prometheus"
PROMETHEUS_NAME = "Prometheus"
# `kubectl apply` keeps the whole object in the kubectl.kubernetes.io/last-applied-configuration
# annotation, and the annotations of an object may hold at most this many bytes.
APPLY_ANNOTATION_LIMIT = 262144
# Datasource references Grafana resolves by itself.
BUILT_IN = frozenset({"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --"})
_VARIABLE = re.compile(r"^\$(\{([A-Za-z0-9_]+)(:[a-z]+)?\}|([A-Za-z0-9_]+))$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

Problem = tuple[JsonPath, str, str]


def config_map_name(name: str) -> str:
    return f"grafana-dashboard-{name}"


def has_prometheus(stack: Stack) -> bool:
    """Whether Grafana gets the stack's Prometheus as a datasource: it runs where Grafana does
    (kmc.check.dependencies refuses a Prometheus that is on in some of Grafana's environments only)."""
    return stack.enabled_somewhere("grafana.enabled", PROMETHEUS_SWITCH)


def provisioned_datasources(stack: Stack) -> dict[str, str]:
    """uid → name of every datasource Grafana gets."""
    own = {PROMETHEUS_UID: PROMETHEUS_NAME} if has_prometheus(stack) else {}
    return {**own, **{source.uid: source.name for source in stack.grafana.datasources}}


def input_files(stack: Stack, stack_dir: Path) -> tuple[Path, ...]:
    """The files besides the stack that a build reads: the dashboard files, when Grafana is built."""
    if not stack.enabled_somewhere("grafana.enabled"):
        return ()
    return tuple(stack_dir / entry.file for entry in stack.grafana.files)


def vendor(stack: Stack, stack_dir: Path) -> tuple[Stack, list[Problem]]:
    """`stack` with its dashboards read (library first, then the files in stack order), and the problems found."""
    grafana = stack.grafana
    sources = provisioned_datasources(stack)
    problems: list[Problem] = []
    found: list[tuple[JsonPath, Dashboard, object]] = []  # (where, dashboard, its uid)
    library = _read_library() if grafana.library else {}
    active = dashboard_needs.active_groups(stack) if grafana.library else set()
    selected = {name: dashboard_needs.select(stack, library[name]["text"], active) for name in grafana.library}
    provisioned = {f"kmc-{name}" for name, chosen in selected.items() if chosen is not None}
    for index, name in enumerate(grafana.library):
        where: JsonPath = ("grafana", "dashboards", "library", index)
        kept, chosen = library[name], selected[name]
        problems += [(where, message, hint) for message, hint in _unresolved(kept["references"], kept["variables"], f"library dashboard {name}", sources)]
        if chosen is None:
            continue  # nothing the stack collects would show on it
        full, switch, reduced = chosen
        mode = stack.scrape.job_names  # the library names kmc's jobs; the stack's mode may name them otherwise
        text, reduced_text = (job_names.rename_in_json(dashboard_needs.without_links(board, provisioned), mode) if board else None for board in (full, reduced))
        assert text is not None
        found.append((where, Dashboard(f"kmc-{name}", grafana.library_folder, text, switch, reduced_text), kept["uid"]))
    for index, entry in enumerate(grafana.files):
        where = ("grafana", "dashboards", "files", index)
        for uid, target in entry.replace_datasource_uids.items():
            if target not in sources:
                problems.append(((*where, "replaceDatasourceUids", uid), f"{target!r} is not a provisioned datasource uid", _known(sources)))
        board, problem = _read(stack_dir, entry.file)
        if board is None:
            problems.append(((*where, "file"), problem, "paths are relative to the directory of the stack file" if "no such" in problem else ""))
            continue
        if entry.replace_datasource_uids:
            board = _replace_uids(board, entry.replace_datasource_uids)
        problems += [((*where, "file"), message, hint) for message, hint in _references(board, entry.file, sources)]
        name = _slug(Path(entry.file).stem)
        board.setdefault("uid", f"kmc-{name}"[:40])
        board["id"] = None  # provisioning identifies dashboards by uid
        found.append(((*where, "file"), Dashboard(name, entry.folder, _text(board)), board["uid"]))
    problems += _collisions(found)
    problems += _sizes(found, stack.namespace)
    return replace(stack, grafana=replace(grafana, dashboards=tuple(board for _, board, _ in found))), problems


def _read(stack_dir: Path, file: str) -> tuple[dict[str, Any] | None, str]:
    path = stack_dir / file
    try:
        raw = inputs.read(path)  # heard by the build's recording: an input of the output
    except FileNotFoundError:
        return None, f"no such dashboard file: {file}"
    except OSError as err:
        return None, f"cannot read {file}: {err.strerror}"
    try:
        board = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"{file} is not UTF-8 text"
    except json.JSONDecodeError as err:
        return None, f"{file} is not JSON: {err.msg} (line {err.lineno}, column {err.colno})"
    if not isinstance(board, dict) or not isinstance(board.get("title"), str) or not isinstance(board.get("panels", []), list):
        wrapped = isinstance(board, dict) and isinstance(board.get("dashboard"), dict)
        detail = " (it holds one under `dashboard`, as the HTTP API returns it: save that part)" if wrapped else ""
        return None, f"{file} is not a Grafana dashboard: expected a JSON object with a `title` and `panels`{detail}"
    return board, ""


def _text(board: Mapping[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def _slug(stem: str) -> str:
    """A DNS label made of a file name: `Node Exporter (full)` → node-exporter-full."""
    return _NOT_SLUG.sub("-", stem.lower()).strip("-")[:40].strip("-") or "dashboard"


def _replace_uids(value: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out = {key: _replace_uids(child, replacements) for key, child in value.items()}
        ref = out.get("datasource")
        if isinstance(ref, dict) and ref.get("uid") in replacements:
            out["datasource"] = {**ref, "uid": replacements[ref["uid"]]}
        elif isinstance(ref, str) and ref in replacements:
            out["datasource"] = {"uid": replacements[ref]}
        return out
    if isinstance(value, list):
        return [_replace_uids(child, replacements) for child in value]
    return value


def datasource_references(value: Any) -> Iterator[str | None]:
    """Every `datasource` a dashboard refers to: a uid, a legacy name or a variable (None: the default)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "datasource":
                if isinstance(child, dict):
                    yield child.get("uid") if isinstance(child.get("uid"), str) else None
                elif isinstance(child, str):
                    yield child
            yield from datasource_references(child)
    elif isinstance(value, list):
        for child in value:
            yield from datasource_references(child)


def _read_library() -> dict[str, dict[str, Any]]:
    """Each library dashboard's text, uid and what it refers to.

    The library's files are kept in `_text`'s form (a test holds them to it), so their text is
    used as it is."""
    library = {}
    for path in sorted((data_dir("library") / "dashboards").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        board = json.loads(text)
        references, variables = _referenced(board)
        library[path.stem] = {"text": text, "uid": board.get("uid"), "references": references, "variables": variables}
    return library


def _references(board: Mapping[str, Any], what: str, sources: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    return _unresolved(*_referenced(board), what, sources)


def _referenced(board: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The datasources `board` refers to (sorted; not the default) and its template variables."""
    variables = sorted({str(var.get("name")) for var in board.get("templating", {}).get("list", []) if isinstance(var, dict)})
    return sorted({ref for ref in datasource_references(board) if ref is not None}), variables


def _unresolved(references: list[str], variables: list[str], what: str, sources: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    known = {*sources, *sources.values(), *BUILT_IN}
    for ref in references:
        variable = _VARIABLE.match(ref)
        if variable and (variable.group(2) or variable.group(4)) in variables:
            continue
        if ref in known:
            continue
        if variable:
            yield (
                f"{what} refers to datasource {ref}, an input of a dashboard exported for sharing externally",
                f"map it to a provisioned datasource with replaceDatasourceUids: {{'{ref}': {PROMETHEUS_UID}}}",
            )
        else:
            yield (
                f"{what} refers to datasource uid {ref!r}, which is not provisioned",
                f"map it with replaceDatasourceUids: {{{ref}: {PROMETHEUS_UID}}}; {_known(sources)}",
            )


def _known(sources: Mapping[str, str]) -> str:
    return f"provisioned datasource uids: {', '.join(sorted(sources))}"


def _collisions(found: list[tuple[JsonPath, Dashboard, object]]) -> Iterator[Problem]:
    names: dict[str, JsonPath] = {}
    uids: dict[str, JsonPath] = {}
    for where, board, uid in found:
        if board.name in names:
            yield (
                where,
                f"dashboard ConfigMap {config_map_name(board.name)} would be made twice",
                "rename one of the files: the ConfigMap is named after the file",
            )
        elif isinstance(uid, str) and uid in uids:
            yield where, f"dashboard uid {uid!r} is used twice", "give each dashboard its own `uid`"
        names.setdefault(board.name, where)
        if isinstance(uid, str):
            uids.setdefault(uid, where)


def config_map(board: Dashboard, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The ConfigMap holding `board` (and its reduced text, where it has one: both are compiled, the
    pod's volume picks one by the switch)."""
    meta = {"name": config_map_name(board.name), "namespace": namespace, "labels": dict(labels)}
    data = {file_key(board): board.json}
    if board.reduced is not None:
        data[reduced_key(board)] = board.reduced
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def file_key(board: Dashboard) -> str:
    return f"{board.name}.json"


def reduced_key(board: Dashboard) -> str:
    """The key of `board`'s text where its switch is off: `kmc-cluster.json` → `kmc-cluster.without-kube-state-metrics.json`."""
    assert board.switch is not None
    component = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", board.switch.removesuffix(".enabled")).lower().replace(".", "-")
    return f"{board.name}.without-{component}.json"


def _sizes(found: list[tuple[JsonPath, Dashboard, object]], namespace: str) -> Iterator[Problem]:
    from kmc.components import kube

    for where, board, _ in found:
        size = len(json.dumps(config_map(board, namespace, kube.labels("grafana", "dashboard")), separators=(",", ":")).encode())
        if size > APPLY_ANNOTATION_LIMIT:
            yield (
                where,
                f"dashboard ConfigMap {config_map_name(board.name)} would be {size} bytes, over the {APPLY_ANNOTATION_LIMIT} bytes `kubectl apply` can record in its last-applied annotation",
                "split the dashboard into smaller ones (e.g. a row per dashboard), or trim it; only server-side apply (`kubectl apply --server-side`) takes ConfigMaps up to 1 MiB",
            )
