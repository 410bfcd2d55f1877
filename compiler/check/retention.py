"""Size-based retention against the volume it lives on (called from kmc.check.semantic).

`--storage.tsdb.retention.size` bounds the blocks, counting the WAL and the head chunks, but
Prometheus deletes only whole blocks and only once the total has passed the limit, while the WAL,
the head chunks and compaction's new blocks keep growing on the same volume. Prometheus'
storage documentation recommends at most 80-85% of the volume; above 85% the disk fills up
before retention frees anything. Without persistent storage (an emptyDir with no size limit)
there is no size to compare with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]

# Prometheus parses the flag with kingpin's BytesVar, i.e. alecthomas/units' ParseBase2Bytes: KB
# and KiB alike are 1024 bytes, so every unit is a power of 1024 (the flag's help says so too).
RETENTION_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5, "EB": 1024**6}
# Kubernetes quantities: decimal SI suffixes and binary ones, as (numerator, denominator); and milli.
QUANTITY_SUFFIXES: dict[str, tuple[int, int]] = {
    "": (1, 1),
    "m": (1, 1000),
    **{suffix: (1000**power, 1) for power, suffix in enumerate("kMGTPE", start=1)},
    **{f"{suffix}i": (1024**power, 1) for power, suffix in enumerate("KMGTPE", start=1)},
}
FILL_PERCENT = 85  # integers throughout: `fractions` would import `decimal` on every build
_RETENTION = re.compile(r"([0-9]+)([KMGTPE]?B)")
_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)")
_VOLUME_UNITS = (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024))


def retention_bytes(text: str) -> int:
    """The bytes of a schema-valid retentionSize, as Prometheus reads it (`45GB` is 45 GiB)."""
    match = _RETENTION.fullmatch(text)
    assert match, text
    return int(match[1]) * RETENTION_UNITS[match[2]]


def quantity_bytes(text: str) -> int:
    """The whole bytes of a schema-valid Kubernetes quantity (`10Gi` is 10 GiB, `100G` is 100 000 000 000 bytes)."""
    match = _QUANTITY.fullmatch(text)
    assert match, text
    whole, _, fraction = match[1].partition(".")
    numerator, denominator = QUANTITY_SUFFIXES[match[2]]
    scale: int = 10 ** len(fraction) * denominator
    return int(whole + fraction) * numerator // scale


def problems(stack: Stack) -> Iterator[Problem]:
    """A retentionSize above 85% of the Prometheus volume, in the stack's own values and in each
    environment's, reported where the value that makes it so is written."""
    for env in (None, *stack.environments):
        values = stack.values(env)["prometheus"]
        storage = values.get("storage")
        if storage is None or not stack.prometheus.storage:
            continue  # an emptyDir without a size limit (an environment may not add storage: kmc.check.semantic)
        limit, size = values["retentionSize"], str(storage["size"])
        if env is None:
            where: JsonPath = ("prometheus", "retentionSize")
        else:
            written = stack.environments[env].get("prometheus", {})
            if "retentionSize" in written:
                where = ("environments", env, "prometheus", "retentionSize")
            elif "size" in written.get("storage", {}):
                where = ("environments", env, "prometheus", "storage", "size")
            else:
                continue  # both inherited: reported with the stack's own values
        wanted, volume = retention_bytes(limit), quantity_bytes(size)
        if wanted == 0 or 100 * wanted <= FILL_PERCENT * volume:
            continue
        share = f"is {-(-100 * wanted // volume)}% of" if volume else "does not fit"
        fits = _fitting_retention(volume)
        yield (
            where,
            f"retentionSize {limit} {share} the {size} volume"
            + (f" in environment {env!r}" if env else "")
            + ": the disk fills up before size-based retention deletes a block",
            "Prometheus deletes only whole blocks, once their total has passed the limit, and the WAL, the head chunks and compaction "
            f"share the volume (its GB is 1024³ bytes): set retentionSize to at most {fits + ' (85% of the volume)' if fits else '85% of the volume'}"
            f" or storage.size to at least {_fitting_volume(wanted)}",
            False,
        )


def _fitting_retention(volume: int) -> str:
    """The largest retentionSize in one whole unit that stays within 85% of `volume` ("" if none does)."""
    most = FILL_PERCENT * volume // 100
    for unit, size in reversed(RETENTION_UNITS.items()):
        if most >= size:
            return f"{most // size}{unit}"
    return ""


def _fitting_volume(retention: int) -> str:
    """The smallest volume in whole Gi (Mi, Ki below one Gi) for which `retention` is at most 85%."""
    least = -(-100 * retention // FILL_PERCENT)
    for unit, size in _VOLUME_UNITS:
        if least >= size or unit == "Ki":
            return f"{-(-least // size)}{unit}"
    raise AssertionError("unreachable")
