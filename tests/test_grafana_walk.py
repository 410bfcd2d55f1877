"""Grafana finds every dashboard the stack provisions, exactly once and in its folder, in the files
its pod really holds; and an edited dashboard reaches it through the kubelet's volume update.

No Grafana server runs here, so its provisioning is modelled from its source, grafana/grafana at
v12.2.1 (the image kmc pins; build commit 563109b696e9c1cbaf345f2ab7a11f7f78422982):

- pkg/services/provisioning/dashboards/config_reader.go (`readConfig`, `parseConfigs`): every
  `*.yaml`/`*.yml` file directly in `<provisioning>/dashboards` is read; `apiVersion` >= 1 holds
  `providers`; an unset `orgId` is 1, `type` is `file`, `updateIntervalSeconds` is 10.
- pkg/services/provisioning/dashboards/types.go: a provider's keys (`name`, `type`, `orgId`,
  `folder`, `folderUid`, `disableDeletion`, `updateIntervalSeconds`, `allowUiUpdates`,
  `options`); provider names must be unique.
- pkg/services/provisioning/dashboards/file_reader.go: `NewDashboardFileReader` takes
  `options.path`, refuses `folder`/`folderUid` with `foldersFromFilesStructure`; `walkDisk`
  resolves the path (`filepath.Abs`, `filepath.EvalSymlinks`) and walks it with Go's
  `filepath.Walk`, which lstats every entry, so a symlinked directory is a non-directory entry
  and is not entered; `validateWalkablePath` skips directories named `.*` and keeps files ending
  in `.json`; `readDashboardFromFile` opens the path, following a file symlink. With
  `foldersFromFilesStructure` a file's folder is its directory's name (none at the root),
  otherwise the provider's `folder` (none: General). A file's path is its identity across
  walks; a changed checksum of its content re-saves the dashboard (`saveDashboard`).
- The image's Dockerfile sets GF_PATHS_PROVISIONING=/etc/grafana/provisioning, which overrides
  grafana.ini's [paths] provisioning.

Why it matters: the kubelet's atomic writer (modelled in pod_files) makes every top-level entry of
a ConfigMap or projected volume a symlink, so folders as directories of one volume are never walked
(grafana/grafana#11958): `test_the_old_layout_hides_every_folder_dashboard` shows this model sees it.
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pod_files import Container
from stack_strategies import dump, grafana_folders, stacks
from tools import ROOT

from kmc import pipeline
from kmc.components import dashboards
from kmc.ir import lookup
from kmc.model import Dashboard

IMAGE_PROVISIONING = "/etc/grafana/provisioning"
SECOND_WRITE = "..2026_12_06_01_03_04.987654321"
STACKS = [*sorted(ROOT.glob("golden/*/stack.yaml")), ROOT / "stack.yaml"]
Objects = dict[tuple[str, str], dict[str, Any]]
Found = Counter[tuple[str, str, str]]  # (folder title, "" for General; file name; content)


# --- the stack's pod -------------------------------------------------------------------------------


def build(stack: Path) -> tuple[tuple[Dashboard, ...], dict[str, Objects]]:
    """The dashboards of `stack` and the manifests of each of its environments, as objects by (kind, name)."""
    compiled = pipeline.compile_stack(stack)
    envs: dict[str, Objects] = {}
    for path, content in sorted(pipeline.emit(compiled, ("manifests",), None)["manifests"].items()):
        if not path.endswith(".yaml"):
            continue  # PREREQUISITES.md
        for obj in yaml.safe_load_all(content):
            envs.setdefault(path.split("/", 1)[0], {})[(obj["kind"], obj["metadata"]["name"])] = obj
    return compiled.stack.grafana.dashboards, envs


def grafana_container(objects: Objects, root: Path) -> Container | None:
    """Grafana's container with every volume laid out as the kubelet does; None when this environment has no Grafana."""
    deployment = objects.get(("Deployment", "grafana"))
    if deployment is None:
        return None
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return Container(root, pod, container, objects)


def expected(boards: tuple[Dashboard, ...], objects: Objects) -> Found:
    """What the stack provisions: each dashboard of the model in its folder, as its ConfigMap holds
    it; where the dashboard's switch is off, its reduced text, or nothing when it has none."""
    found: Found = Counter()
    values = environment_values(objects)
    for board in boards:
        key = f"{board.name}.json"
        if board.switch is not None and not lookup(values, board.switch):
            if board.reduced is None:
                assert ("ConfigMap", dashboards.config_map_name(board.name)) not in objects
                continue
            key = dashboards.reduced_key(board)
        found[(board.folder or "", f"{board.name}.json", objects[("ConfigMap", dashboards.config_map_name(board.name))]["data"][key])] += 1
    return found


def environment_values(objects: Objects) -> dict[str, Any]:
    """The switches a dashboard may have, as the environment's objects show them: a component is on where its workload is."""
    return {
        "kubeStateMetrics": {"enabled": ("Deployment", "kube-state-metrics") in objects},
        "nodeExporter": {"enabled": ("DaemonSet", "node-exporter") in objects},
        "alertmanager": {"enabled": ("StatefulSet", "alertmanager") in objects},
    }


# --- Grafana's provisioning, as its source reads the files ----------------------------------------------


def providers(container: Container) -> list[dict[str, Any]]:
    """Grafana's dashboard providers: the provisioning files of `<provisioning>/dashboards`, defaults applied."""
    provisioning = container.env.get("GF_PATHS_PROVISIONING", IMAGE_PROVISIONING)
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(container.host("/etc/grafana/grafana.ini").read_text())
    assert ini.get("paths", "provisioning", fallback=provisioning) == provisioning, "grafana.ini's provisioning path is overridden by the image"
    directory = container.host(f"{provisioning}/dashboards")
    found: list[dict[str, Any]] = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith((".yaml", ".yml")):
            continue
        config = yaml.safe_load((directory / name).read_text())
        assert config.get("apiVersion", 0) >= 1, f"{name}: kmc writes provisioning files of apiVersion 1"
        for provider in config.get("providers") or []:
            found.append({"orgId": 1, "type": "file", "updateIntervalSeconds": 10, **{k: v for k, v in provider.items() if v not in (None, 0, "")}})
    names = [provider["name"] for provider in found]
    assert len(names) == len(set(names)), f"provider names are not unique: {names}"
    return found


def go_walk(root: Path) -> list[Path]:
    """The files Grafana's `filepath.Walk(resolvedPath, createWalkFn(...))` keeps under `root`."""
    kept: list[Path] = []

    def walk(path: Path) -> None:
        if stat.S_ISDIR(os.lstat(path).st_mode):  # lstat: a symlink to a directory is not one
            if path.name.startswith("."):
                return  # filepath.SkipDir
            for name in sorted(os.listdir(path), key=os.fsencode):  # Go's sorted readDirNames
                walk(path / name)
        elif path.name.endswith(".json"):
            kept.append(path)

    walk(root)
    return kept


def provisioned(container: Container) -> tuple[Found, dict[str, Path]]:
    """Every dashboard Grafana saves, in its folder, and the path (its identity) of each by file name."""
    found: Found = Counter()
    paths: dict[str, Path] = {}
    for provider in providers(container):
        assert provider["type"] == "file" and provider["orgId"] == 1
        options = provider["options"]
        from_files = bool(options.get("foldersFromFilesStructure"))
        assert not (from_files and (provider.get("folder") or provider.get("folderUid"))), "Grafana refuses folder with foldersFromFilesStructure"
        resolved = Path(os.path.realpath(container.host(options["path"])))
        for path in go_walk(resolved):
            try:
                content = path.read_text()  # os.Open follows a file symlink; a dangling one is logged and skipped
            except FileNotFoundError:
                continue
            folder = (path.parent.name if path.parent != resolved else "") if from_files else provider.get("folder", "")
            found[(folder, path.name, content)] += 1
            paths[path.name] = path
    return found, paths


# --- the golden stacks --------------------------------------------------------------------------------


def _cases() -> list[Any]:
    return [pytest.param(stack, id=str(stack.parent.relative_to(ROOT)) or "charts-out") for stack in STACKS]


@pytest.mark.parametrize("stack", _cases())
def test_grafana_finds_every_dashboard_once_in_its_folder(stack: Path, tmp_path: Path) -> None:
    boards, envs = build(stack)
    for env, objects in envs.items():
        container = grafana_container(objects, tmp_path / env)
        if container is None:
            continue
        found, _ = provisioned(container)
        want = expected(boards, objects)
        assert found == want, f"{env}: missing {sorted((f, n) for f, n, _ in want - found)}, unexpected {sorted((f, n) for f, n, _ in found - want)}"


def test_the_golden_stacks_put_dashboards_in_folders_and_in_general() -> None:
    """The cases above are worth something: folders with spaces, several folders, and the General folder."""
    folders = {board.folder for stack in STACKS for board in pipeline.compile_stack(stack).stack.grafana.dashboards}
    assert None in folders and "Team logs" in folders and len(folders) >= 4


def test_a_dashboard_edit_reaches_grafana_through_the_volume_update(tmp_path: Path) -> None:
    """The kubelet writes the edited ConfigMap into a new timestamped directory and swaps `..data`:
    the next walk reads the new content at the same path, so Grafana re-saves it (its checksum changed)."""
    stack = ROOT / "golden/grafana-custom/stack.yaml"
    objects = build(stack)[1]["default"]
    container = grafana_container(objects, tmp_path)
    assert container is not None
    before, paths = provisioned(container)
    config_map = objects[("ConfigMap", "grafana-dashboard-logs")]
    board = json.loads(config_map["data"]["logs.json"])
    edited = json.dumps({**board, "title": "Team logs, edited"}, indent=2) + "\n"
    objects[("ConfigMap", "grafana-dashboard-logs")] = {**config_map, "data": {"logs.json": edited}}
    (volume,) = [
        name
        for name, spec in container.volumes.items()
        if any(source["configMap"]["name"] == "grafana-dashboard-logs" for source in spec.get("projected", {}).get("sources", []) if "configMap" in source)
    ]
    container.update(volume, objects, SECOND_WRITE)
    after, paths_after = provisioned(container)
    assert os.readlink(container.by_volume[volume] / "..data") == SECOND_WRITE
    assert not any(entry.name.startswith("..2026_12_06_01_02_03") for entry in container.by_volume[volume].iterdir())
    assert paths_after == paths  # the same file for Grafana: an update, not a new dashboard
    assert before - after == Counter({("Team logs", "logs.json", config_map["data"]["logs.json"]): 1})
    assert after - before == Counter({("Team logs", "logs.json", edited): 1})


# --- the layout kmc used to emit: one volume, folders as its directories -------------------------------


def _old_layout(objects: Objects, boards: tuple[Dashboard, ...]) -> Objects:
    """`objects` with Grafana's dashboards mounted as kmc did before: one projected volume with an
    item `<folder>/<name>.json` per dashboard, read by one provider with `foldersFromFilesStructure`."""
    changed = copy.deepcopy(objects)
    provider = {
        "name": "kmc",
        "orgId": 1,
        "type": "file",
        "disableDeletion": True,
        "options": {"path": "/etc/grafana-dashboards", "foldersFromFilesStructure": True},
    }
    changed[("ConfigMap", "grafana")]["data"]["dashboards.yaml"] = yaml.safe_dump({"apiVersion": 1, "providers": [provider]})
    pod = changed[("Deployment", "grafana")]["spec"]["template"]["spec"]
    pod["volumes"] = [volume for volume in pod["volumes"] if not volume["name"].startswith("dashboards")]
    (container,) = pod["containers"]
    container["volumeMounts"] = [mount for mount in container["volumeMounts"] if not mount["name"].startswith("dashboards")]
    sources = [
        {
            "configMap": {
                "name": dashboards.config_map_name(board.name),
                "items": [{"key": f"{board.name}.json", "path": f"{board.folder}/{board.name}.json" if board.folder else f"{board.name}.json"}],
            }
        }
        for board in boards
    ]
    pod["volumes"].append({"name": "dashboards", "projected": {"sources": sources}})
    container["volumeMounts"].append({"name": "dashboards", "mountPath": "/etc/grafana-dashboards", "readOnly": True})
    return changed


def test_the_old_layout_hides_every_folder_dashboard(tmp_path: Path) -> None:
    """The model detects the bug: in one volume a folder is a symlink to a directory, never walked."""
    stack = ROOT / "golden/grafana-custom/stack.yaml"
    boards, envs = build(stack)
    objects = _old_layout(envs["default"], boards)
    container = grafana_container(objects, tmp_path)
    assert container is not None
    volume = container.by_volume["dashboards"]
    assert (volume / "Team logs").is_symlink() and (volume / "Team logs").is_dir()
    assert os.readlink(volume / "Team logs") == "..data/Team logs"
    found, _ = provisioned(container)
    assert {board.folder for board in boards if board.folder} == {"Apps", "Platform", "Team logs"}
    assert [(folder, name) for folder, name, _ in found] == [("", "home.json")]  # only the one without a folder


# --- generated stacks ------------------------------------------------------------------------------------


@st.composite
def stacks_with_dashboards(draw: st.DrawFn) -> tuple[dict[str, Any], list[str | None]]:
    """A generated stack with Grafana on and dashboard files in generated folders (None: General)."""
    doc = draw(stacks())
    grafana = doc.setdefault("grafana", {})
    grafana["enabled"] = True
    folders = draw(st.lists(st.none() | grafana_folders, min_size=1, max_size=8))
    files = [{"file": f"boards/board-{index}.json", **({"folder": folder} if folder is not None else {})} for index, folder in enumerate(folders)]
    grafana["dashboards"] = {**grafana.get("dashboards", {}), "files": files}
    return doc, folders


BOARD = {"title": "Generated", "panels": [{"id": 1, "type": "text", "gridPos": {"h": 4, "w": 12, "x": 0, "y": 0}}]}


@settings(
    max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(case=stacks_with_dashboards())
def test_grafana_finds_generated_stacks_dashboards(case: tuple[dict[str, Any], list[str | None]], tmp_path_factory: pytest.TempPathFactory) -> None:
    doc, folders = case
    root = tmp_path_factory.mktemp("walk")
    (root / "boards").mkdir()
    for index in range(len(folders)):
        (root / f"boards/board-{index}.json").write_text(json.dumps({**BOARD, "title": f"Generated {index}"}))
    (root / "stack.yaml").write_bytes(dump(doc))
    boards, envs = build(root / "stack.yaml")
    assert [board.folder for board in boards[len(boards) - len(folders) :]] == folders
    for env, objects in envs.items():
        container = grafana_container(objects, root / "pods" / env)
        if container is None:
            continue
        found, _ = provisioned(container)
        want = expected(boards, objects)
        assert found == want, f"{env}: missing {sorted((f, n) for f, n, _ in want - found)}, unexpected {sorted((f, n) for f, n, _ in found - want)}"
