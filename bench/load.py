"""Benchmark: `dockyard load` vs `skopeo copy` into an OCI dir (vs `podman load`).

Two archives: the official glibc busybox image and a generated 200 MB,
20,000-file, 4-layer image.  dockyard unpacks every layer into snapshots
(what `podman load` does too); `skopeo copy` alone only copies blobs (the
floor for reading and verifying the archive), `skopeo copy` + `umoci
unpack` does the same work as dockyard.  Prints medians and ratios.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, SHARED, have, report, run, timed  # noqa: E402
from tests.imagegen import random_layers, write_image  # noqa: E402

RUNS = 3


def bench(archive: Path, title: str, work: Path) -> None:
    results: dict[str, list[float]] = {}
    root = work / "root"
    oci = work / "oci"

    def fresh() -> None:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(oci, ignore_errors=True)

    results["dockyard load"] = timed(
        lambda: run([*DOCKYARD, "--root", str(root), "load", "-q", "-i", str(archive)]),
        runs=RUNS, setup=fresh)
    if have("skopeo"):
        results["skopeo copy → oci dir"] = timed(
            lambda: run(["skopeo", "copy", "-q", f"oci-archive:{archive}", f"oci:{oci}:x"]),
            runs=RUNS, setup=fresh)
    if have("skopeo") and have("umoci"):  # the same work: copy, then unpack every layer
        bundle = work / "bundle"

        def copy_unpack() -> None:
            run(["skopeo", "copy", "-q", f"oci-archive:{archive}", f"oci:{oci}:x"])
            run(["umoci", "unpack", "--image", f"{oci}:x", str(bundle)])

        results["skopeo copy + umoci unpack"] = timed(
            copy_unpack, runs=RUNS,
            setup=lambda: (fresh(), shutil.rmtree(bundle, ignore_errors=True)))
    if have("podman"):
        storage = work / "podman"

        def podman_fresh() -> None:
            run(["podman", "--root", str(storage), "--runroot", str(work / "run"),
                 "system", "reset", "-f"])
        results["podman load"] = timed(
            lambda: run(["podman", "--root", str(storage), "--runroot", str(work / "run"),
                         "load", "-q", "-i", str(archive)]), runs=RUNS, setup=podman_fresh)
    base = "skopeo copy + umoci unpack" if "skopeo copy + umoci unpack" in results else \
        "dockyard load"
    report(title, results, base)
    fresh()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        glibc = SHARED / "fixtures/images/busybox-1.37.0-glibc-amd64-oci.tar"
        bench(glibc, f"load {glibc.name} ({glibc.stat().st_size / 1e6:.1f} MB)", work)
        big = work / "big.tar"
        print("generating a 200 MB / 20,000-file image …", flush=True)
        write_image(big, random_layers(4, 5000, 10_000, seed=7), tag="bench:big")
        bench(big, f"load generated image ({big.stat().st_size / 1e6:.0f} MB, 20,000 files)",
              work)


if __name__ == "__main__":
    main()
