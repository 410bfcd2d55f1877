"""A pod's files as the kubelet lays them out, for tests of what a container really reads.

There is no kubelet here, so this models it from its source, kubernetes/kubernetes
pkg/volume/util/atomic_writer.go (`AtomicWriter.Write`): a ConfigMap, Secret or projected volume
holds its files in a timestamped directory `..YYYY_MM_DD_HH_MM_SS.N`, `..data` is a relative
symlink to it, and each top-level entry of the payload is a relative symlink `name -> ..data/name`
(for an item path `a/b.json`, `a` is a symlink to a directory of the timestamped one). An update
writes a new timestamped directory, adds the new top-level symlinks, swaps `..data` by renaming a
`..data_tmp` symlink over it (atomic), removes the top-level symlinks no longer in the payload and
then the old timestamped directory; a payload equal to what the volume shows writes nothing.
emptyDir and PersistentVolumeClaim volumes are plain directories. A container sees each volume at
its `mountPath` (bind mounts); `subPath` is not used by kmc and not modelled.

`local_args` gives a container's args as they run on this machine: every path under one of its
volume mounts moved to the directory standing for that volume, and the flags a test must place
(listen addresses) replaced; nothing else changes, and every replaced flag must be one the
container has.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

FIRST_WRITE = "..2026_12_06_01_02_03.123456789"
DATA = "..data"
# A Secret is created by the user, not compiled: its mounted keys get this content.
SECRET_CONTENT = b"a value from a Secret the user creates\n"


def atomic_write(target: Path, payload: Mapping[str, bytes], stamp: str | None = None) -> bool:
    """Write (or update) volume directory `target` with `payload` ({item path: content}) as the
    kubelet does; False when the volume shows that payload already. `stamp`: the timestamped
    directory's name (default: the first one not in the volume)."""
    if volume_files(target) == dict(payload):
        return False
    if stamp is None:
        stamp = next(name for index in itertools.count() if not (target / (name := f"{FIRST_WRITE[:-9]}{index:09d}")).exists())
    assert stamp.startswith("..") and not (target / stamp).exists(), stamp
    for path in payload:
        parts = PurePosixPath(path).parts
        assert parts and not PurePosixPath(path).is_absolute() and ".." not in parts and not parts[0].startswith(".."), path
    target.mkdir(parents=True, exist_ok=True)
    data = target / DATA
    old = os.readlink(data) if data.is_symlink() else None
    old_visible = {entry.name for entry in target.iterdir() if not entry.name.startswith("..")}
    stamped = target / stamp
    stamped.mkdir()
    for path, content in payload.items():
        file = stamped / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)
    visible = {PurePosixPath(path).parts[0] for path in payload}
    for name in sorted(visible - old_visible):
        os.symlink(f"{DATA}/{name}", target / name)
    os.symlink(stamp, target / "..data_tmp")
    os.replace(target / "..data_tmp", data)
    for name in sorted(old_visible - visible):
        (target / name).unlink()
    if old is not None:
        shutil.rmtree(target / old)
    return True


def volume_files(target: Path) -> dict[str, bytes] | None:
    """The payload volume directory `target` shows now ({item path: content}, read through
    `..data`); None before its first write."""
    data = target / DATA
    if not data.is_symlink():
        return None
    root = target / os.readlink(data)
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def volume_payload(volume: Mapping[str, Any], objects: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, bytes] | None:
    """The files of a ConfigMap, Secret or projected volume ({item path: content}); None for a plain directory.

    `objects`: the compiled objects by (kind, name), where the ConfigMaps' data comes from.
    """
    if "emptyDir" in volume or "persistentVolumeClaim" in volume:
        return None
    if "projected" in volume:
        sources = volume["projected"]["sources"]
    else:
        (kind,) = [key for key in ("configMap", "secret") if key in volume]
        sources = [{kind: volume[kind]}]
    payload: dict[str, bytes] = {}
    for source in sources:
        ((kind, spec),) = source.items()
        if kind == "configMap":
            if ("ConfigMap", spec["name"]) not in objects and spec.get("optional"):
                # pkg/volume/projected/projected.go (`collectData`): a missing optional ConfigMap adds no file.
                continue
            data = objects[("ConfigMap", spec["name"])]["data"]
            items = spec.get("items") or [{"key": key, "path": key} for key in data]
            files = {item["path"]: data[item["key"]].encode("utf-8") for item in items}
        else:
            assert kind == "secret", f"volume source {kind} is not modelled"
            # Without items, every key of a Secret the cluster holds: its keys are unknown here.
            files = {item["path"]: SECRET_CONTENT for item in spec.get("items", [])}
        assert not payload.keys() & files.keys(), f"volume {volume['name']}: two sources write {sorted(payload.keys() & files.keys())}"
        payload.update(files)
    return payload


class Container:
    """A container's view of its volumes: every `mountPath` is a directory of `root` holding its volume."""

    def __init__(self, root: Path, pod: Mapping[str, Any], container: Mapping[str, Any], objects: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self.root = root
        self.volumes = {volume["name"]: volume for volume in pod["volumes"]}
        self.env = {var["name"]: var["value"] for var in container.get("env", []) if "value" in var}
        self.mounts: dict[str, Path] = {}  # mount path -> its volume's directory
        self.by_volume: dict[str, Path] = {}
        read_only = [mount["mountPath"] for mount in container["volumeMounts"] if mount.get("readOnly")]
        for index, mount in enumerate(container["volumeMounts"]):
            path = mount["mountPath"]
            assert "subPath" not in mount, "subPath mounts are not modelled"
            inside = [other for other in read_only if other != path and PurePosixPath(path).is_relative_to(other)]
            assert not inside, f"{path} is mounted inside the read-only volume mounted at {inside[0]}"
            assert path not in self.mounts, f"two volumes mounted at {path}"
            self.mounts[path] = self.by_volume[mount["name"]] = root / f"volume-{index}"
            payload = volume_payload(self.volumes[mount["name"]], objects)
            if payload is None:
                self.mounts[path].mkdir()
            else:
                atomic_write(self.mounts[path], payload)

    def host(self, path: str) -> Path:
        """Where the container's absolute `path` lies here (under the longest mount path holding it)."""
        pure = PurePosixPath(path)
        holders = [mount for mount in self.mounts if pure.is_relative_to(mount)]
        assert holders, f"{path} is on the container's read-only root filesystem, in no volume"
        mount = max(holders, key=len)
        return self.mounts[mount].joinpath(*pure.relative_to(mount).parts)

    def update(self, volume: str, objects: Mapping[tuple[str, str], Mapping[str, Any]], stamp: str) -> None:
        """The kubelet's sync after an object behind `volume` changed: a new timestamped directory, `..data` swapped."""
        payload = volume_payload(self.volumes[volume], objects)
        assert payload is not None, f"{volume} is not written by the kubelet"
        atomic_write(self.by_volume[volume], payload, stamp)


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
