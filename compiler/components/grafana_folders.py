"""Where Grafana finds its dashboards: one volume, one directory and one file provider per folder.

Not one volume with a directory per folder: the kubelet writes ConfigMap and projected volumes
with its atomic writer, which makes every top-level entry of the volume a symlink into `..data/`,
and Grafana's file provider walks its path with Go's `filepath.Walk`, which does not enter a
symlinked directory. Such a folder directory is never read, whereas a symlinked file is. So each
folder's dashboards are the top-level files of a volume of their own, mounted at a directory of
their own (never inside another volume), and read by a provider that names the folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from kmc.components import dashboards
from kmc.ir import Switch
from kmc.model import Dashboard
from kmc.record import record

DASHBOARDS_DIR = "/etc/grafana-dashboards"
GENERAL = "general"  # the key of the dashboards without a folder (Grafana's General folder)
# Grafana walks each provider's directory this often; the kubelet's ConfigMap sync (about a minute)
# dominates how soon an edited dashboard shows. Set explicitly: Grafana's default is 10 seconds.
UPDATE_INTERVAL_SECONDS = 30
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_LENGTH = 40  # "dashboards-" + slug + "-" + 8 hex digits (+ "-N") stays within a volume name's 63


@record
class Folder:
    """A Grafana folder's dashboards (`title` None: the General folder) and the `key` naming its volume and directory."""

    title: str | None
    key: str
    boards: tuple[Dashboard, ...]

    @property
    def volume(self) -> str:
        return f"dashboards-{self.key}"

    @property
    def path(self) -> str:
        return f"{DASHBOARDS_DIR}/{self.key}"

    @property
    def provider(self) -> str:
        return f"kmc-{self.key}"


def folders(boards: Sequence[Dashboard]) -> tuple[Folder, ...]:
    """The folders of `boards`: the General folder first (if any dashboard has no folder), then by title."""
    titles = sorted({board.folder for board in boards if board.folder is not None})
    keys = folder_keys(titles)
    found = []
    if any(board.folder is None for board in boards):
        found.append(Folder(None, GENERAL, tuple(board for board in boards if board.folder is None)))
    found += [Folder(title, keys[title], tuple(board for board in boards if board.folder == title)) for title in titles]
    return tuple(found)


def folder_keys(titles: Sequence[str]) -> dict[str, str]:
    """A distinct volume-name-safe key per folder title: its slug and a digest of the exact title.

    Titles may hold any text (schema `$defs/grafanaFolder`: what Grafana accepts), which volume
    names may not; the digest keeps `Apps` and `apps` apart, and keeps a title's key independent of the
    other titles. A key always holds a `-`, so none is `general`; a digest collision (never seen)
    would take a numbered suffix rather than a shared volume.
    """
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for title in sorted(titles):
        slug = _NOT_SLUG.sub("-", title.lower()).strip("-")[:_SLUG_LENGTH].rstrip("-")
        base = f"{slug}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:8]}"
        key, number = base, 1
        while key in taken:
            number += 1
            key = f"{base}-{number}"
        keys[title] = key
        taken.add(key)
    return keys


def providers_file(found: Sequence[Folder]) -> dict[str, Any]:
    """The dashboards provisioning file: one file provider per folder, reading that folder's directory.

    `disableDeletion`: a dashboard dropped from the stack is only unprovisioned, never deleted with
    what users saved next to it; `allowUiUpdates` off: the stack is the dashboard's source.
    """
    providers = []
    for folder in found:
        provider: dict[str, Any] = {"name": folder.provider, "orgId": 1, "type": "file"}
        if folder.title is not None:
            provider["folder"] = folder.title
        provider.update(
            {
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": UPDATE_INTERVAL_SECONDS,
                "options": {"path": folder.path},
            }
        )
        providers.append(provider)
    return {"apiVersion": 1, "providers": providers}


def volume(folder: Folder) -> dict[str, Any]:
    """The folder's projected volume: each dashboard's ConfigMap key as a file at the volume's top level."""
    return {"name": folder.volume, "projected": {"sources": [_source(board) for board in folder.boards]}}


def _source(board: Dashboard) -> dict[str, Any]:
    """A dashboard's file: where its switch is off, the ConfigMap's reduced text under the same file
    name, or nothing when it has none (the ConfigMap itself is left out there: `optional`, as the
    kubelet skips a missing optional source of a projected volume)."""
    key: str | Switch = dashboards.file_key(board)
    spec: dict[str, Any] = {}
    if board.switch is not None and board.reduced is not None:
        key = Switch(board.switch, on=key, off=dashboards.reduced_key(board))
    elif board.switch is not None:
        spec["optional"] = True
    return {"configMap": {"items": [{"key": key, "path": dashboards.file_key(board)}], "name": dashboards.config_map_name(board.name), **spec}}


def mount(folder: Folder) -> dict[str, Any]:
    return {"mountPath": folder.path, "name": folder.volume, "readOnly": True}
