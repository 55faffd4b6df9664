"""Read side of containers: ``ps`` rows and ``inspect`` documents."""

from __future__ import annotations

import json
import os

from ..images.config import format_created
from ..network.settings import network_settings
from . import ContainerSummary
from .containers import Containers


def command_text(config: dict) -> str:
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return " ".join(args)


def summaries(svc: Containers, *, all: bool = True) -> list[ContainerSummary]:  # noqa: A002
    out = []
    for row in svc.db.query("SELECT * FROM containers ORDER BY created DESC"):
        row = svc.reconcile(row)
        if row is None or (not all and row["state"] not in ("running", "paused",
                                                             "restarting")):
            continue
        config = json.loads(row["config"])
        out.append(ContainerSummary(
            id=row["id"], name=row["name"], image=row["image"], image_id=row["image_id"],
            command=command_text(config), created=row["created"], state=row["state"],
            exit_code=row["exit_code"], started_at=row["started_at"],
            finished_at=row["finished_at"], labels=config.get("Labels") or {},
            ports=svc.ports(row["id"]) if row["state"] in ("running", "paused",
                                                          "restarting") else (),
            restart_count=row["restart_count"]))
    return out


def _time(ts: float) -> str:
    return format_created(ts) if ts else "0001-01-01T00:00:00Z"


def inspect(svc: Containers, cid: str) -> dict:
    row = svc.row(cid)
    config = json.loads(row["config"])
    host = json.loads(row["host_config"])
    d = svc.dir(cid)
    state = row["state"]
    mounts = []
    for m in host.get("MountSpecs") or []:
        if m["Type"] == "volume":
            mounts.append({"Type": "volume", "Name": m["Source"],
                           "Source": svc.volumes.path(m["Source"]),
                           "Destination": m["Target"], "Driver": "local", "Mode": "z",
                           "RW": not m["ReadOnly"], "Propagation": ""})
        else:
            mounts.append({"Type": m["Type"], "Source": m["Source"],
                           "Destination": m["Target"], "Mode": "", "RW": not m["ReadOnly"],
                           "Propagation": "rprivate" if m["Type"] == "bind" else ""})
    snap = svc.snapshots.stat(cid) if svc.snapshots.exists(cid) else None
    upper = svc.snapshots.upper_dir(cid) if snap else ""
    lowers = svc.snapshots.lower_dirs(cid) if snap else []
    return {
        "Id": row["id"],
        "Created": _time(row["created"]),
        "Path": (list(config.get("Entrypoint") or []) + list(config.get("Cmd") or []) or [""])[0],
        "Args": (list(config.get("Entrypoint") or []) + list(config.get("Cmd") or []))[1:],
        "State": {
            "Status": state, "Running": state in ("running", "paused", "restarting"),
            "Paused": state == "paused", "Restarting": state == "restarting",
            "OOMKilled": bool(row["oom_killed"]), "Dead": state == "dead", "Pid": row["pid"],
            "ExitCode": row["exit_code"], "Error": row["error"],
            "StartedAt": _time(row["started_at"]), "FinishedAt": _time(row["finished_at"]),
        },
        "Image": row["image_id"],
        "ResolvConfPath": os.path.join(d, "resolv.conf"),
        "HostnamePath": os.path.join(d, "hostname"),
        "HostsPath": os.path.join(d, "hosts"),
        "LogPath": os.path.join(d, "container.log"),
        "Name": "/" + row["name"],
        "RestartCount": row["restart_count"],
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {k: v for k, v in host.items() if k != "MountSpecs"},
        "GraphDriver": {"Name": "overlay", "Data": {
            "LowerDir": ":".join(lowers), "UpperDir": upper,
            "WorkDir": os.path.join(os.path.dirname(upper), "work") if upper else "",
            "MergedDir": os.path.join(d, "rootfs")}},
        "Mounts": mounts,
        "Config": config,
        "NetworkSettings": network_settings(d, host, state in ("running", "paused",
                                                                "restarting")),
    }
