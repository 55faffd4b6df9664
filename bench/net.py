"""Benchmark: container networking — dockyard's bridge vs the bare runtime (vs podman).

- ``run --rm busybox true`` on the default bridge against the same with
  ``--network none`` (what the bridge adds), bare ``runc run`` of an
  equivalent bundle joining a netns made once beforehand (the floor: no
  per-container network work at all), and podman's default bridge
  (netavark) where podman is installed.
- Throughput of one TCP download (256 MB from busybox httpd) through a
  published port against straight to the container's address: through
  127.0.0.1 (the kernel's DNAT path the engine installs) and through [::1]
  (the monitor's userland proxy, splice(2) based).  Target: ≥ 70 % of direct.

Prints medians, spreads and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, PODMAN_ULIMITS, podman, report, run, timed  # noqa: E402
from bench.run import ARCHIVE, IMAGE, bare, make_bundle, out  # noqa: E402

RUNS = 10
TRANSFERS = 5
SIZE_MB = 256


def with_netns(bundle: Path, netns: str) -> Path:
    """The bundle's spec, joining ``netns`` instead of making a fresh one."""
    spec = json.loads((bundle / "config.json").read_text())
    spec["linux"]["namespaces"] = [
        ns for ns in spec["linux"]["namespaces"] if ns["type"] != "network"
    ] + [{"type": "network", "path": netns}]
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def bench_run(d: list[str], root: Path, work: Path, p: list[str] | None) -> None:
    from engine.network import netlink

    bundle = make_bundle(d, root, work)
    netns = f"{netlink.NETNS_DIR}/bench-{uuid.uuid4().hex[:8]}"
    netlink.create_netns(netns)
    try:
        with netlink.session(netns) as ns:
            netlink.lo_up(ns)
        with_netns(bundle, netns)
        results: dict[str, list[float]] = {}
        run([*d, "run", "--rm", IMAGE, "true"])  # warm: first use makes the default network
        results["dockyard run --rm (bridge)"] = timed(
            lambda: run([*d, "run", "--rm", IMAGE, "true"]), runs=RUNS)
        results["dockyard run --rm --network none"] = timed(
            lambda: run([*d, "run", "--rm", "--network", "none", IMAGE, "true"]), runs=RUNS)
        cmd = bare("runc", bundle, work / "state")
        if cmd is not None:
            results["runc run (pre-made netns)"] = timed(
                lambda: run([*cmd, f"b-{uuid.uuid4().hex[:8]}"]), runs=RUNS)
        if p is not None:
            results["podman run --rm (bridge)"] = timed(
                lambda: run([*p, "run", "--rm", "--network", "bridge", *PODMAN_ULIMITS, IMAGE,
                             "true"]), runs=RUNS)
        report("run --rm busybox true", results, "dockyard run --rm (bridge)")
        if "podman run --rm (bridge)" in results:
            report("  … against podman's default bridge (target: at most 0.5x)", results,
                   "podman run --rm (bridge)")
    finally:
        netlink.remove_netns(netns)


def download(host: str, port: int) -> float:
    """GB/s of one HTTP/1.0 download, counting only the body's transfer."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.connect((host, port))
        s.sendall(b"GET /big HTTP/1.0\r\nHost: bench\r\n\r\n")
        buf = bytearray(1 << 20)
        n, start = 0, time.perf_counter()
        while True:
            k = s.recv_into(buf)
            if not k:
                break
            n += k
    if n < SIZE_MB << 20:
        raise SystemExit(f"short download from {host}:{port}: {n} bytes")
    return n / (time.perf_counter() - start) / 1e9


def wait_http(host: str, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on {host}:{port}")


def bench_throughput(d: list[str], root: Path) -> None:
    from engine.network.ports import ipv6_available

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = (f"dd if=/dev/zero of=/www/big bs=1M count={SIZE_MB} 2>/dev/null && "
             "exec httpd -f -p 80 -h /www")
    cid = out([*d, "run", "-d", "--tmpfs", "/www", "-p", f"{port}:80", IMAGE, "sh", "-c",
               serve])
    try:
        ip = json.loads((root / "containers" / cid / "network.json").read_text())["ip"]
        wait_http(ip, 80)
        routes = {"straight to the container": (ip, 80),
                  "published, via 127.0.0.1": ("127.0.0.1", port)}
        if ipv6_available():
            routes["published, via [::1] (proxy)"] = ("::1", port)
        speeds: dict[str, list[float]] = {k: [] for k in routes}
        for _ in range(TRANSFERS):  # interleaved, so load changes hit every route alike
            for name, (host, p) in routes.items():
                speeds[name].append(download(host, p))
        print(f"\nthroughput of one {SIZE_MB} MB download (target: published ≥ 0.70x direct)")
        base = statistics.median(speeds["straight to the container"])
        for name, v in speeds.items():
            med = statistics.median(v)
            ratio = f"{med / base:5.2f}x direct" if name != "straight to the container" else ""
            print(f"  {name:<32} median {med:6.2f} GB/s  "
                  f"(min {min(v):5.2f}, max {max(v):5.2f})  {ratio}")
    finally:
        run([*d, "rm", "-f", cid])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        root = work / "root"
        d = [*DOCKYARD, "--root", str(root)]
        subprocess.run([*d, "load", "-q", "-i", str(ARCHIVE)], check=True,
                       capture_output=True)
        with podman(work, ARCHIVE) as pod:
            bench_run(d, root, work, pod)
        bench_throughput(d, root)


if __name__ == "__main__":
    main()
