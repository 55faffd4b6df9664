"""What ``create``/``run`` accept: Docker's flags as one frozen dataclass.

The CLI parses flags into :class:`CreateOptions`; the TUI's run form fills
the same fields.  :func:`container_config` merges them with the image's
config into Docker's ``Config`` and ``HostConfig`` shapes, which is what the
container row stores and ``inspect`` shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import InvalidArgument

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
RESTART_RE = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


@dataclass(frozen=True)
class CreateOptions:
    """Everything ``create``/``run`` takes, in the engine's terms."""

    image: str
    command: Sequence[str] = ()
    name: str = ""
    entrypoint: str | None = None  # "" clears the image's entrypoint
    env: Sequence[str] = ()
    workdir: str = ""
    user: str = ""
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    interactive: bool = False
    restart: str = "no"
    auto_remove: bool = False
    network: str = "bridge"
    privileged: bool = False
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    read_only: bool = False
    memory: int = 0
    memory_swap: int = 0
    cpus: float = 0.0
    cpu_shares: int = 0
    pids_limit: int = 0
    volumes: Sequence[str] = ()  # -v specs
    mounts: Sequence[str] = ()  # --mount specs
    tmpfs: Sequence[str] = ()  # --tmpfs specs
    log_opts: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    stop_timeout: int | None = None
    runtime: str = ""
    publish: Sequence[str] = ()
    publish_all: bool = False
    network_aliases: Sequence[str] = ()


def parse_size(text: str, *, what: str = "size") -> int:
    """Docker's RAMInBytes: 512, 512b, 10k, 64m, 1g (binary units)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?", text.strip().lower())
    if not m:
        raise InvalidArgument(f"invalid {what}: '{text}'")
    mult = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
            "p": 1 << 50}[m.group(2)]
    return int(float(m.group(1)) * mult)


def validate(opts: CreateOptions) -> None:
    if opts.name and not NAME_RE.match(opts.name):
        raise InvalidArgument(f"Invalid container name ({opts.name}), only "
                              "[a-zA-Z0-9][a-zA-Z0-9_.-]"
                              " are allowed")
    if not RESTART_RE.match(opts.restart):
        raise InvalidArgument(f"invalid restart policy format: {opts.restart}")
    if opts.auto_remove and opts.restart not in ("no", ""):
        raise InvalidArgument("Conflicting options: --restart and --rm")
    if opts.memory and opts.memory < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if opts.memory_swap and opts.memory_swap != -1 and opts.memory_swap < opts.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if opts.memory_swap and not opts.memory:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if opts.cpus < 0:
        raise InvalidArgument("invalid argument for --cpus: must be positive")
    import os

    if opts.cpus > (os.cpu_count() or 1):
        raise InvalidArgument(f"range of CPUs is from 0.01 to {os.cpu_count()}.00, as there are "
                              f"only {os.cpu_count()} CPUs available")


def container_config(opts: CreateOptions, image_cfg: dict, image_ref: str) -> tuple[dict, dict]:
    """Docker's (Config, HostConfig) for a new container."""
    img = image_cfg.get("config") or {}
    entrypoint = img.get("Entrypoint")
    cmd = img.get("Cmd")
    if opts.entrypoint is not None:
        entrypoint = [opts.entrypoint] if opts.entrypoint else None
        cmd = None  # Docker: a new entrypoint drops the image's CMD
    if opts.command:
        cmd = list(opts.command)
    env = list(img.get("Env") or [])
    keys = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    for e in opts.env:
        k = e.split("=", 1)[0]
        if k in keys:
            env[keys[k]] = e
        else:
            keys[k] = len(env)
            env.append(e)
    labels = {**(img.get("Labels") or {}), **opts.labels}
    name, _, limit = opts.restart.partition(":")
    config = {
        "Hostname": opts.hostname, "Domainname": "", "User": opts.user or img.get("User", ""),
        "AttachStdin": opts.interactive, "AttachStdout": True, "AttachStderr": True,
        "Tty": opts.tty, "OpenStdin": opts.interactive, "StdinOnce": opts.interactive,
        "Env": env, "Cmd": cmd, "Image": image_ref, "Volumes": img.get("Volumes"),
        "WorkingDir": opts.workdir or img.get("WorkingDir", ""), "Entrypoint": entrypoint,
        "OnBuild": None, "Labels": labels,
        "StopSignal": opts.stop_signal or img.get("StopSignal", ""),
        "ExposedPorts": img.get("ExposedPorts"),
    }
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout
    host = {
        "Binds": list(opts.volumes) or None, "Mounts": list(opts.mounts) or None,
        "Tmpfs": {t.split(":", 1)[0]: (t.split(":", 1)[1] if ":" in t else "")
                  for t in opts.tmpfs} or None,
        "NetworkMode": opts.network,
        "PortBindings": list(opts.publish) or None, "PublishAllPorts": opts.publish_all,
        "RestartPolicy": {"Name": name or "no", "MaximumRetryCount": int(limit or 0)},
        "AutoRemove": opts.auto_remove, "Privileged": opts.privileged,
        "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
        "ReadonlyRootfs": opts.read_only, "Memory": opts.memory,
        "MemorySwap": opts.memory_swap, "NanoCpus": int(opts.cpus * 1e9),
        "CpuShares": opts.cpu_shares, "PidsLimit": opts.pids_limit or None,
        "LogConfig": {"Type": "json-file", "Config": dict(opts.log_opts)},
        "Runtime": opts.runtime, "NetworkAliases": list(opts.network_aliases) or None,
    }
    return config, host
