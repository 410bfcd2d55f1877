"""A compiled pod played on this machine: its volumes as directories, its containers' args pointing there.

`AtomicVolume` lays out a ConfigMap, Secret or projected volume as the kubelet's atomic writer
does, modelled on kubernetes pkg/volume/util/atomic_writer.go (`AtomicWriter.Write`, v1.35):

- a payload equal to the files already there writes nothing;
- otherwise the files go into a new timestamped directory `..YYYY_MM_DD_HH_MM_SS.<random>` (UTC,
  made by `os.MkdirTemp` in the volume), a symlink `..data_tmp` to it is created and renamed over
  `..data` (the one atomic step: a reader sees the old files or the new ones, never a mix);
- each top-level entry of the payload is a relative symlink `NAME -> ..data/NAME`, made once and
  kept across updates; entries no longer in the payload are removed, then the previous timestamped
  directory.

`local_args` gives a container's args as they run here: every path under one of its volume mounts
moved to the directory standing for that volume, and the flags a test must place (listen
addresses) replaced; nothing else changes, and every replaced flag must be one the container has.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DATA = "..data"


class AtomicVolume:
    """A volume directory written only as the kubelet's atomic writer writes it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def files(self) -> dict[str, bytes]:
        """The payload the volume shows now (path → content), read through `..data`."""
        data = self.directory / DATA
        if not data.is_symlink():
            return {}
        root = self.directory / os.readlink(data)
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}

    def write(self, payload: Mapping[str, str | bytes]) -> bool:
        """Project `payload` (path → content); False when it is already what the volume shows."""
        wanted = {path: content.encode() if isinstance(content, str) else content for path, content in payload.items()}
        data = self.directory / DATA
        old = os.readlink(data) if data.is_symlink() else None
        if old is not None and self.files() == wanted:
            return False
        new = Path(tempfile.mkdtemp(prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()), dir=self.directory))
        new.chmod(0o755)
        for path, content in wanted.items():
            target = new / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o644)
        os.symlink(new.name, self.directory / "..data_tmp")
        os.rename(self.directory / "..data_tmp", data)
        top = {path.split("/", 1)[0] for path in wanted}
        for name in sorted(top):
            if not (self.directory / name).is_symlink():
                os.symlink(f"{DATA}/{name}", self.directory / name)
        if old is not None:
            for name in sorted({entry.name for entry in (self.directory / old).iterdir()} - top):
                (self.directory / name).unlink()
            shutil.rmtree(self.directory / old)
        return True


def local_args(container: Mapping[str, Any], volumes: Mapping[str, Path], replaced: Mapping[str, str]) -> list[str]:
    """`container`'s args with paths under its mounts of `volumes` (volume name → directory) moved
    there and the `--flag=value` args of `replaced` (flag → value) given their new value."""
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container.get("volumeMounts", []) if mount["name"] in volumes}
    out, seen = [], set()
    for arg in container["args"]:
        flag, equals, value = arg.partition("=")
        if flag in replaced:
            seen.add(flag)
            arg = f"{flag}={replaced[flag]}"
        elif equals:
            arg = f"{flag}={local_path(value, mounts)}"
        out.append(arg)
    assert seen == set(replaced), f"flags the container does not have: {sorted(set(replaced) - seen)}"
    return out


def local_path(path: str, mounts: Mapping[str, Path]) -> str:
    """`path` as seen in the pod, moved into the directory of the mount it is under (the deepest one); else unchanged."""
    for mount in sorted(mounts, key=len, reverse=True):
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return str(mounts[mount]) + path[len(mount.rstrip("/")) :]
    return path
