"""`kmc package`: a chart directory as a byte-reproducible `.tgz`, the form Helm installs and pushes.

Reproducible means: the same files give the same bytes, whoever packages them, wherever, whenever.
Entries are sorted, every file has mode 0644, owner 0:0 with no names and the mtime 0; directories
get no entries of their own; the gzip header carries no file name and no time.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import tarfile
from pathlib import Path
from typing import Any

import yaml

from kmc.errors import KmcError
from kmc.tls.private_keys import holds_private_key

_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclasses.dataclass(frozen=True)
class Package:
    name: str
    version: str
    metadata: dict[str, Any]  # Chart.yaml
    content: bytes  # the .tgz

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}.tgz"


def chart_metadata(text: bytes, where: str) -> dict[str, Any]:
    """Chart.yaml, checked for what packaging and pushing rely on."""
    try:
        metadata = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise KmcError(f"{where}: not valid YAML: {err}") from None
    if not isinstance(metadata, dict):
        raise KmcError(f"{where}: not a Chart.yaml mapping")
    name, version = str(metadata.get("name", "")), str(metadata.get("version", ""))
    if not _NAME.fullmatch(name):
        raise KmcError(f"{where}: name {name!r} is not a chart name (lower-case letters, digits and '-')")
    if not _SEMVER.fullmatch(version):
        raise KmcError(f"{where}: version {version!r} is not SemVer 2 (e.g. 1.2.3), as Helm requires")
    return metadata


def read_chart(chart_dir: Path) -> Package:
    """Package the chart in `chart_dir` in memory; refuses a chart holding a private key."""
    if not (chart_dir / "Chart.yaml").is_file():
        raise KmcError(f"{chart_dir}: not a chart directory (no Chart.yaml); kmc build --format helm writes charts to charts-out/helm/<name>/")
    metadata = chart_metadata((chart_dir / "Chart.yaml").read_bytes(), str(chart_dir / "Chart.yaml"))
    files: dict[str, bytes] = {}
    for path in sorted(chart_dir.rglob("*")):
        relative = path.relative_to(chart_dir).as_posix()
        if path.is_symlink():
            raise KmcError(f"{path}: a symbolic link; a chart package holds regular files only")
        if path.is_file():
            files[relative] = path.read_bytes()
    refuse_private_keys(files, str(chart_dir))
    return Package(metadata["name"], str(metadata["version"]), metadata, tgz({f"{metadata['name']}/{name}": data for name, data in files.items()}))


def refuse_private_keys(files: dict[str, bytes], where: str) -> None:
    holders = sorted(name for name, data in files.items() if holds_private_key(data))
    if holders:
        raise KmcError(
            f"{where}: refusing to package a private key ({', '.join(holders)}); a published chart must take its keys from an existing Secret or cert-manager"
        )


def tgz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def read_package(path: Path) -> Package:
    """A packaged chart (.tgz), checked like a directory: Chart.yaml readable, no private key."""
    content = path.read_bytes()
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    files[member.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise KmcError(f"{path}: not a chart package (.tgz): {err}") from None
    charts = sorted(name for name in files if name.count("/") == 1 and name.endswith("/Chart.yaml"))
    if len(charts) != 1:
        raise KmcError(f"{path}: not a chart package: expected one <name>/Chart.yaml at its top, found {len(charts)}")
    refuse_private_keys(files, str(path))
    metadata = chart_metadata(files[charts[0]], f"{path}:{charts[0]}")
    return Package(metadata["name"], str(metadata["version"]), metadata, content)


def write_package(package: Package, dist: Path) -> Path:
    """Write the .tgz into `dist` atomically: a reader never sees half a package."""
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / package.file_name
    partial = dist / f".{package.file_name}.partial"
    partial.write_bytes(package.content)
    partial.replace(target)
    return target
