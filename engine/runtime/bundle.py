"""The OCI bundle of one container start: the runtime spec made from the
container's config and host config, its mounts and /etc files, and Docker's
checks (and exit codes) for a command that cannot run."""

from __future__ import annotations

import os

from ..errors import InvalidArgument, StartFailed
from ..network import Attachment
from ..network.etcfiles import read_text
from ..volumes import VolumeStore
from .rootpath import secure_join
from .spec import Mount, Resources, SpecInput, build_spec

__all__ = ["check_command", "make_spec"]


def make_spec(cid: str, config: dict, host: dict, rootfs: str, *, bundle_dir: str,
              volumes: VolumeStore, att: Attachment | None = None) -> dict:
    """The OCI spec for one start of ``cid``, its /etc files written beside it."""
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    net = host.get("NetworkMode", "none")
    mounts = _mounts(cid, config, host, rootfs, net, bundle_dir, volumes, att)
    s = SpecInput(
        args=args, env=config.get("Env") or [], cwd=config.get("WorkingDir") or "/",
        user=config.get("User", ""), hostname=config.get("Hostname", ""),
        tty=bool(config.get("Tty")), readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        privileged=bool(host.get("Privileged")), cap_add=host.get("CapAdd") or (),
        cap_drop=host.get("CapDrop") or (), mounts=mounts,
        resources=Resources(memory=host.get("Memory") or 0,
                            memory_swap=host.get("MemorySwap") or 0,
                            cpus=(host.get("NanoCpus") or 0) / 1e9,
                            cpu_shares=host.get("CpuShares") or 0,
                            pids_limit=host.get("PidsLimit") or 0),
        netns=None if net == "host" else (att.netns if att else ""),
        cgroup_path=f"/dockyard/{cid}")
    return build_spec(s, rootfs)

def _mounts(cid: str, config: dict, host: dict, rootfs: str, net: str, d: str,
            volumes: VolumeStore, att: Attachment | None) -> list[Mount]:
    out: list[Mount] = []
    for m in host.get("MountSpecs") or []:
        ro = ("ro",) if m["ReadOnly"] else ()
        if m["Type"] == "bind":
            if not os.path.exists(m["Source"]):
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source "
                                      f"path does not exist: {m['Source']}")
            out.append(Mount(m["Target"], "bind", m["Source"], ("rbind", "rprivate", *ro)))
        elif m["Type"] == "volume":
            if "nocopy" not in m.get("Options", []):
                volumes.seed(m["Source"], secure_join(rootfs, m["Target"]))
            out.append(Mount(m["Target"], "bind", volumes.path(m["Source"]),
                             ("rbind", "rprivate", *ro)))
        else:
            out.append(Mount(m["Target"], "tmpfs", "tmpfs",
                             ("nosuid", "nodev", "noexec", *m.get("Options", []), *ro)))
    hostname = config.get("Hostname") or cid[:12]
    files = _etc_files(net, hostname)
    if att is not None:
        files["hosts"] = att.hosts or files["hosts"]
        files["resolv.conf"] = att.resolv_conf
    for name, content in files.items():
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(content)
        out.append(Mount(f"/etc/{name}", "bind", path, ("rbind", "rprivate")))
    return out

def check_command(rootfs: str, process: dict) -> None:
    """Docker's errors (and exit codes) for a program that cannot run."""
    prog = process["args"][0] if process["args"] else ""
    env = dict(e.split("=", 1) for e in process["env"] if "=" in e)
    if "/" in prog:
        candidates = [prog if prog.startswith("/") else
                      os.path.join(process.get("cwd") or "/", prog)]
    else:
        candidates = [os.path.join(p or "/", prog) for p in env.get("PATH", "").split(":")]
    for cand in candidates:
        path = secure_join(rootfs, cand)
        if os.path.isfile(path):
            if not os.access(path, os.X_OK):
                raise StartFailed(f'failed to create task: exec: "{prog}": permission denied',
                                  exit_code=126)
            return
        if os.path.isdir(path) and "/" in prog:
            raise StartFailed(f'failed to create task: exec: "{prog}": is a directory',
                              exit_code=126)
    where = "stat " + prog + ": no such file or directory" if "/" in prog else \
        "executable file not found in $PATH"
    raise StartFailed(f'failed to create task: exec: "{prog}": {where}', exit_code=127)


def _etc_files(net: str, hostname: str) -> dict[str, str]:
    if net == "host":
        return {"hosts": read_text("/etc/hosts"), "resolv.conf": read_text("/etc/resolv.conf"),
                "hostname": os.uname().nodename + "\n"}
    hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
             "ff02::2\tip6-allrouters\n")
    return {"hosts": hosts, "resolv.conf": "", "hostname": hostname + "\n"}
