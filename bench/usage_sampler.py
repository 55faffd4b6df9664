"""Benchmark: one writable-layer sample vs a full walk vs `du -s`.

A running busybox container gets 50,000 files (500 directories × 100) written
through its overlay mount.  Each timed run first changes 100 of them (appends,
spread over 100 directories, untimed), then measures one of:

- ``WritableSampler.sample()`` — the incremental sampler (target ≤ 50 ms);
- ``measure()`` — this module's full scan (apparent + on-disk + counts);
- ``snapshots.usage()`` — the store's existing os.walk measurement;
- ``du -s`` of the same upper dir (GNU coreutils, in C).

Prints medians and ratios, plus the sampler's one-off start cost.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, SHARED, have, report, run, timed  # noqa: E402

FILES, PER_DIR, CHANGED, RUNS = 50_000, 100, 100, 15
IMAGE = "busybox:1.37.0-musl"


def main() -> None:
    from engine import Engine
    from engine.snapshots.overlay import OverlaySnapshotter
    from engine.usage.sampler import WritableSampler, measure

    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        cli = [*DOCKYARD, "--root", str(root)]
        run([*cli, "load", "-q", "-i", str(SHARED / "fixtures/images"
                                            / "busybox-1.37.0-musl-amd64-oci.tar")])
        cid = subprocess.run([*cli, "run", "-d", IMAGE, "sleep", "3600"], check=True,
                             capture_output=True).stdout.decode().strip()
        try:
            with Engine(str(root)) as eng:
                upper = eng.snapshots.upper_dir(cid)
            mnt = root / "containers" / cid / "rootfs" / "data"
            print(f"writing {FILES:,} files through the container's overlay …", flush=True)
            dirs = FILES // PER_DIR
            for d in range(dirs):
                (mnt / f"d{d:03}").mkdir(parents=True)
                for f in range(PER_DIR):
                    (mnt / f"d{d:03}" / f"f{f:03}").write_bytes(b"x" * ((d * f) % 512))
            sampler = WritableSampler(upper)
            t = time.perf_counter()
            first = sampler.sample()
            start = time.perf_counter() - t
            print(f"sampler start (full scan + {first.watches} watches): {start * 1000:.0f} ms, "
                  f"{first.files:,} files, {first.apparent:,} B apparent")
            rounds = itertools.count()

            def change() -> None:  # 100 files in 100 directories, a different set each run
                k = next(rounds)
                for i in range(CHANGED):
                    d = (i * 5 + k) % dirs
                    with open(mnt / f"d{d:03}" / f"f{(k + i) % PER_DIR:03}", "ab") as f:
                        f.write(b"y" * 100)

            samples = []
            results = {"sampler.sample()": timed(lambda: samples.append(sampler.sample()),
                                                 runs=RUNS, setup=change)}
            results["measure() full walk"] = timed(lambda: measure(upper), runs=5, setup=change)
            results["snapshots.usage (os.walk)"] = timed(
                lambda: OverlaySnapshotter._measure(upper), runs=5, setup=change)
            if have("du"):
                results["du -s"] = timed(lambda: run(["du", "-s", upper]), runs=5, setup=change)
            report(f"one writable-layer sample: {FILES:,} files, {CHANGED} changed", results,
                   "du -s" if have("du") else "measure() full walk")
            changed = sorted(s.changed for s in samples)
            assert all(not s.full_scan for s in samples)
            last, full_scan = sampler.sample(), measure(upper)
            assert (last.apparent, last.on_disk, last.files) == (
                full_scan.apparent, full_scan.on_disk, full_scan.files)
            med = sorted(results["sampler.sample()"])[RUNS // 2]
            full = sorted(results["measure() full walk"])[2]
            print(f"  sampler re-stat'ed {changed[0]}–{changed[-1]} paths per sample; "
                  f"full walk / sample = {full / med:.0f}x; target ≤ 50 ms: "
                  f"{'met' if med <= 0.050 else 'MISSED'} ({med * 1000:.1f} ms)")
            sampler.close()
        finally:
            subprocess.run([*cli, "rm", "-f", cid], capture_output=True)


if __name__ == "__main__":
    main()
