"""``-v``, ``--mount`` and ``--tmpfs`` specs → mount descriptions.

Docker's forms:
- ``-v /host/path:/ctr[:ro|rw]`` bind (the host path must be absolute);
- ``-v name:/ctr[:ro]`` named volume (created on demand, seeded from the image);
- ``-v /ctr`` anonymous volume; an image's VOLUME adds anonymous ones;
- ``--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]``;
- ``--tmpfs /ctr[:opts]``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidArgument


@dataclass(frozen=True)
class MountSpec:
    """One ``-v``, ``--mount`` or ``--tmpfs``, parsed."""

    type: str  # bind | volume | tmpfs
    source: str  # host path, volume name ("" = anonymous), or "" for tmpfs
    target: str
    readonly: bool = False
    options: tuple[str, ...] = ()


def _target(path: str, spec: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid mount config for type \"bind\": invalid mount path: "
                              f"'{path}' mount path must be absolute ({spec})")
    return posixpath.normpath(path)


def parse_volume(spec: str) -> MountSpec:
    parts = spec.split(":")
    mode = ""
    if len(parts) == 3:
        src, dst, mode = parts
    elif len(parts) == 2:
        src, dst = parts
    elif len(parts) == 1:
        return MountSpec("volume", "", _target(parts[0], spec))
    else:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    modes = set(mode.split(",")) if mode else set()
    if modes - {"ro", "rw", "z", "Z", "nocopy", "rprivate", "private", "rshared", "shared",
                "rslave", "slave"}:
        raise InvalidArgument(f"invalid mode: {mode}")
    if not src:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    kind = "bind" if src.startswith("/") else "volume"
    if kind == "bind" and not src.startswith("/"):
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    return MountSpec(kind, posixpath.normpath(src) if kind == "bind" else src,
                     _target(dst, spec), "ro" in modes,
                     ("nocopy",) if "nocopy" in modes else ())


def parse_mount(spec: str) -> MountSpec:
    fields: dict[str, str] = {}
    readonly = False
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro") and (not eq or value in ("1", "true")):
            readonly = True
            continue
        if not eq:
            raise InvalidArgument(f"invalid field '{item}' must be a key=value pair")
        fields[key] = value
    kind = fields.get("type", "volume")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid mount type: {kind!r}")
    src = fields.get("source", fields.get("src", ""))
    dst = fields.get("target", fields.get("destination", fields.get("dst", "")))
    if not dst:
        raise InvalidArgument("target is required")
    if kind == "bind" and not src.startswith("/"):
        raise InvalidArgument(f"invalid mount config for type \"bind\": invalid mount path: "
                              f"'{src}' mount path must be absolute")
    opts: list[str] = []
    if kind == "tmpfs":
        if "tmpfs-size" in fields:
            opts.append(f"size={fields['tmpfs-size']}")
        if "tmpfs-mode" in fields:
            opts.append(f"mode={fields['tmpfs-mode']}")
    return MountSpec(kind, src, _target(dst, spec), readonly, tuple(opts))


def parse_tmpfs(spec: str) -> MountSpec:
    path, _, opts = spec.partition(":")
    return MountSpec("tmpfs", "", _target(path, spec), False,
                     tuple(o for o in opts.split(",") if o))


def parse_all(volumes: Sequence[str], mounts: Sequence[str], tmpfs: Sequence[str],
              image_volumes: Sequence[str]) -> list[MountSpec]:
    out: dict[str, MountSpec] = {}
    for v in image_volumes:
        out[posixpath.normpath(v)] = MountSpec("volume", "", posixpath.normpath(v))
    for spec in [*map(parse_volume, volumes), *map(parse_mount, mounts),
                 *map(parse_tmpfs, tmpfs)]:
        if spec.target in out and out[spec.target].source:
            raise InvalidArgument(f"Duplicate mount point: {spec.target}")
        out[spec.target] = spec
    return sorted(out.values(), key=lambda m: m.target.count("/"))
