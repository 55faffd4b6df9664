"""Benchmark: container lifecycle — dockyard vs the bare OCI runtime (vs podman).

- ``run --rm --network none busybox true`` against ``runc run`` (and
  ``crun run`` where crun accepts this host) of an equivalent bundle: the
  spec dockyard itself wrote, on a flat copy of the same rootfs.  The bare
  runtime is the floor: what dockyard adds is the CLI, the store, the
  overlay mount and the monitor.  podman, where installed, runs the same
  image loaded into it (``--ulimit`` flags: root here cannot raise them).
- ``run -d`` until the container runs, ``stop`` of a container that exits
  on SIGTERM, ``commit`` of a container with a 100 MB writable layer.
- the RSS of the monitor process of each of 5 running containers.

Prints medians, spreads and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DOCKYARD,
    PODMAN_ULIMITS,
    SHARED,
    podman,
    report,
    run,
    timed,
)

IMAGE = "busybox:1.37.0-musl"
ARCHIVE = SHARED / "fixtures/images/busybox-1.37.0-musl-amd64-oci.tar"
RUNS = 10


def out(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout.strip()


def make_bundle(d: list[str], root: Path, work: Path) -> Path:
    """The spec dockyard generated for ``run --network none busybox true``, on a
    flat rootfs exported from the same image, with its /etc files copied in."""
    cid = out([*d, "create", "--network", "none", IMAGE, "true"])
    run([*d, "start", "-a", cid])
    bundle = work / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    tar = subprocess.Popen([*d, "export", cid], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(bundle / "rootfs")], stdin=tar.stdout, check=True)
    tar.wait()
    spec = json.loads((root / "containers" / cid / "config.json").read_text())
    spec["root"]["path"] = "rootfs"
    spec["process"]["args"] = ["true"]
    for m in spec["mounts"]:
        src = m.get("source", "")
        if src.startswith(str(root)):
            local = bundle / os.path.basename(src)
            shutil.copy(src, local)
            m["source"] = str(local)
    spec["linux"]["cgroupsPath"] = f"/dockyard-bench/{uuid.uuid4().hex[:12]}"
    (bundle / "config.json").write_text(json.dumps(spec))
    run([*d, "rm", cid])
    return bundle


def bare(runtime: str, bundle: Path, state: Path) -> list[str] | None:
    """The command that runs the bundle once with ``runtime``, if it works here."""
    path = shutil.which(runtime)
    if path is None:
        return None
    cmd = [path, "--root", str(state / runtime), "run", "--bundle", str(bundle)]
    r = subprocess.run([*cmd, f"probe-{uuid.uuid4().hex[:8]}"], capture_output=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        print(f"  ({runtime} refuses this host: "
              f"{r.stderr.decode(errors='replace').strip().splitlines()[-1:]})")
        return None
    return cmd


def bench_run(d: list[str], root: Path, work: Path, pod: list[str] | None) -> None:
    bundle = make_bundle(d, root, work)
    state = work / "state"
    results: dict[str, list[float]] = {}
    # the floor of any dockyard command: interpreter start and CLI import
    results["dockyard version (CLI floor)"] = timed(lambda: run([*d, "version"]), runs=RUNS)
    results["dockyard run --rm"] = timed(
        lambda: run([*d, "run", "--rm", "--network", "none", IMAGE, "true"]), runs=RUNS)
    for rt in ("runc", "crun"):
        cmd = bare(rt, bundle, state)
        if cmd is not None:
            results[f"{rt} run (bare bundle)"] = timed(
                lambda cmd=cmd: run([*cmd, f"b-{uuid.uuid4().hex[:8]}"]), runs=RUNS)
    if pod:
        results["podman run --rm"] = timed(
            lambda: run([*pod, "run", "--rm", "--network=none", *PODMAN_ULIMITS, IMAGE,
                         "true"]), runs=RUNS)
    report("run --rm --network none busybox true", results, "runc run (bare bundle)"
           if "runc run (bare bundle)" in results else "dockyard run --rm")
    if pod:
        report("  … against podman", results, "podman run --rm")


def bench_lifecycle(d: list[str], pod: list[str] | None) -> None:
    trap = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    started: list[str] = []
    results: dict[str, list[float]] = {}
    results["dockyard run -d"] = timed(
        lambda: started.append(out([*d, "run", "-d", IMAGE, *trap])), runs=5)
    stop_ids = list(started)
    results["dockyard stop"] = timed(lambda: run([*d, "stop", stop_ids.pop()]), runs=5)
    run([*d, "rm", *started])
    if pod:
        pstarted: list[str] = []
        results["podman run -d"] = timed(
            lambda: pstarted.append(out([*pod, "run", "-d", *PODMAN_ULIMITS, IMAGE, *trap])),
            runs=5)
        pstop = list(pstarted)
        results["podman stop"] = timed(lambda: run([*pod, "stop", pstop.pop()]), runs=5)
        run([*pod, "rm", *pstarted])
    starts = {k: v for k, v in results.items() if k.endswith("run -d")}
    stops = {k: v for k, v in results.items() if k.endswith("stop")}
    report("run -d (returns once the container runs)", starts, "dockyard run -d")
    report("stop (a container that exits on SIGTERM)", stops, "dockyard stop")


def bench_commit(d: list[str], pod: list[str] | None) -> None:
    fill = ["sh", "-c", "head -c 100000000 /dev/urandom > /big"]
    cid = out([*d, "create", IMAGE, *fill])
    run([*d, "start", "-a", cid])
    made: list[str] = []

    def clean() -> None:
        while made:
            run([*d, "rmi", made.pop()])

    results = {"dockyard commit (100 MB)": timed(
        lambda: made.append(out([*d, "commit", cid])), runs=5, setup=clean)}
    clean()
    run([*d, "rm", cid])
    if pod:
        pcid = out([*pod, "create", *PODMAN_ULIMITS, IMAGE, *fill])
        run([*pod, "start", "-a", pcid])
        pmade: list[str] = []

        def pclean() -> None:
            while pmade:
                run([*pod, "rmi", pmade.pop()])

        results["podman commit (100 MB)"] = timed(
            lambda: pmade.append(out([*pod, "commit", "-q", pcid])), runs=5, setup=pclean)
        pclean()
        run([*pod, "rm", pcid])
    report("commit of a container with a 100 MB writable layer", results,
           "dockyard commit (100 MB)")


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def bench_monitor_rss(d: list[str], root: Path) -> None:
    ids = [out([*d, "run", "-d", IMAGE, "sleep", "1000"]) for _ in range(5)]
    db = sqlite3.connect(root / "dockyard.db")
    pids = [db.execute("SELECT monitor_pid FROM containers WHERE id = ?", (i,)).fetchone()[0]
            for i in ids]
    db.close()
    rss = [_status(p, "VmRSS") for p in pids]
    pss = [_pss(p) for p in pids]
    print("\nmonitor memory with 5 running containers (target: RSS under 15 MB each)")
    for cid, pid, r, p in zip(ids, pids, rss, pss, strict=True):
        print(f"  {cid[:12]}  monitor pid {pid:<8} VmRSS {r / 1024:6.1f} MB   "
              f"PSS {p / 1024:6.1f} MB")
    print(f"  mean VmRSS {sum(rss) / len(rss) / 1024:.1f} MB, max {max(rss) / 1024:.1f} MB; "
          f"mean PSS {sum(pss) / len(pss) / 1024:.1f} MB (shared pages counted once)")
    run([*d, "rm", "-f", *ids])


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench/run.py needs root (containers)")
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        root = work / "root"
        d = [*DOCKYARD, "--root", str(root)]
        run([*d, "load", "-q", "-i", str(ARCHIVE)])
        info = out([*d, "info"])  # probe the runtime once, outside the timings
        runtime = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                        if line.strip().startswith("Runtime:")), "runc")
        with podman(work, ARCHIVE, runtime) as pod:
            bench_run(d, root, work, pod)
            bench_lifecycle(d, pod)
            bench_commit(d, pod)
        bench_monitor_rss(d, root)


if __name__ == "__main__":
    main()
