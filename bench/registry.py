"""Benchmark: `dockyard push/pull` vs `skopeo copy` against a local docker-registry.

A generated 200 MB, 5-layer image (incompressible files, so the bytes on
the wire are the bytes on disk) goes to and from Debian's docker-registry on
127.0.0.1.  Each push run starts a fresh registry, so nothing is skipped or
mounted.  skopeo pushes from an OCI layout directory and pulls into one; it
never unpacks layers.  `dockyard pull` also extracts every layer into
snapshots, so it does more work than skopeo; ``skopeo copy + umoci unpack``
is the like-for-like peer for that.
Prints medians, ratios and throughput (MB/s of blob bytes).
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, have, report, run, timed  # noqa: E402
from tests.imagegen import random_layers, write_image  # noqa: E402

RUNS = 3

CLI = DOCKYARD


class Registry:
    """docker-registry on a free loopback port, fresh storage per start()."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.proc: subprocess.Popen | None = None
        self.host = ""
        self.n = 0

    def start(self) -> str:
        self.stop()
        self.n += 1
        d = self.work / f"registry-{self.n}"
        d.mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = d / "config.yml"
        cfg.write_text("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                       f"storage:\n  filesystem:\n    rootdirectory: {d / 'storage'}\n"
                       f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.host = f"127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return self.host
            except OSError:
                time.sleep(0.05)
        raise SystemExit("docker-registry did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def throughput(title: str, results: dict[str, list[float]], size: int) -> None:
    for name, times in results.items():
        print(f"  {name:<28} {size / 1e6 / statistics.median(times):8.1f} MB/s")


def main() -> None:
    if not have("docker-registry"):
        raise SystemExit("docker-registry is not installed (make bench installs it)")
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        big = work / "big.tar"
        print("generating a 200 MB, 5-layer image …", flush=True)
        write_image(big, random_layers(5, 1000, 40_000, seed=11), tag="bench:big")
        layout = work / "layout"
        with tarfile.open(big) as tar:
            tar.extractall(layout, filter="data")
        size = sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
        root = work / "root"
        run([*DOCKYARD, "--root", str(root), "load", "-q", "-i", str(big)])
        reg = Registry(work)
        try:
            # -- push -------------------------------------------------------------
            pushes: dict[str, list[float]] = {}
            target: list[str] = []

            def fresh_for_dockyard() -> None:
                host = reg.start()
                target[:] = [f"{host}/bench/dockyard:1"]
                run([*DOCKYARD, "--root", str(root), "tag", "bench:big", target[0]])

            pushes["dockyard push"] = timed(
                lambda: run([*CLI, "--root", str(root), "push", "-q", target[0]]),
                runs=RUNS, setup=fresh_for_dockyard)
            if have("skopeo"):
                pushes["skopeo copy oci: → docker://"] = timed(
                    lambda: run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                                 f"oci:{layout}:big", f"docker://{reg.host}/bench/skopeo:1"]),
                    runs=RUNS, setup=reg.start)
            title = f"push generated image ({size / 1e6:.0f} MB of blobs, 5 layers)"
            report(title, pushes,
                   "skopeo copy oci: → docker://" if have("skopeo") else "dockyard push")
            throughput(title, pushes, size)

            # -- pull -------------------------------------------------------------
            host = reg.start()
            src = f"{host}/bench/src:1"
            run([*DOCKYARD, "--root", str(root), "tag", "bench:big", src])
            run([*CLI, "--root", str(root), "push", "-q", src])
            pulls: dict[str, list[float]] = {}
            proot, pdir = work / "pull-root", work / "pull-oci"

            def fresh_pull() -> None:
                shutil.rmtree(proot, ignore_errors=True)
                shutil.rmtree(pdir, ignore_errors=True)

            pulls["dockyard pull (+ unpack)"] = timed(
                lambda: run([*CLI, "--root", str(proot), "pull", "-q", src]),
                runs=RUNS, setup=fresh_pull)
            if have("skopeo"):
                pulls["skopeo copy docker:// → oci:"] = timed(
                    lambda: run(["skopeo", "copy", "-q", "--src-tls-verify=false",
                                 f"docker://{src}", f"oci:{pdir}:x"]),
                    runs=RUNS, setup=fresh_pull)
            if have("skopeo") and have("umoci"):
                bundle = work / "bundle"

                def skopeo_umoci() -> None:
                    run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{src}",
                         f"oci:{pdir}:x"])
                    run(["umoci", "unpack", "--image", f"{pdir}:x", str(bundle)])

                def fresh_bundle() -> None:
                    fresh_pull()
                    shutil.rmtree(bundle, ignore_errors=True)

                # the same work as a dockyard pull: fetch, verify, then extract the layers
                pulls["skopeo copy + umoci unpack"] = timed(skopeo_umoci, runs=RUNS,
                                                            setup=fresh_bundle)
                shutil.rmtree(bundle, ignore_errors=True)
            title = "pull generated image (dockyard also extracts every layer)"
            report(title, pulls,
                   "skopeo copy docker:// → oci:" if have("skopeo") else "dockyard pull (+ unpack)")
            throughput(title, pulls, size)
            fresh_pull()
        finally:
            reg.stop()


if __name__ == "__main__":
    main()
