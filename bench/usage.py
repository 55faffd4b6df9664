"""Benchmark: disk accounting and image analysis, side by side with `du`.

1. `system df -v` on a store with 300 images (sharing base layers) and 500
   containers, vs `du -s` of the same root.
2. `image analyze` of a 1 GB, 30-layer image, vs `du -s` of its layers.
(The writable-layer sampler has its own: bench/usage_sampler.py.)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, report, run, timed  # noqa: E402
from tests.imagegen import layer_tar, random_layers, write_image  # noqa: E402


def populate(root: Path, work: Path) -> None:
    from engine import Engine
    from engine.runtime.options import CreateOptions

    eng = Engine(str(root))
    bases = [layer_tar([(f"base{b}/f{i}", bytes([i]) * 4000) for i in range(50)])
             for b in range(3)]
    for n in range(300):
        path = work / "img.tar"
        app = layer_tar([(f"app/{n}/file{i}", str(n * i).encode() * 100) for i in range(20)])
        write_image(path, [bases[n % 3], app], tag=f"bench/app{n}:latest", compress=False)
        with open(path, "rb") as f:
            eng.load(f, label=path.name)
    for n in range(500):
        eng.create(CreateOptions(image=f"bench/app{n % 300}:latest", command=("true",)))
    eng.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        root = work / "root"
        print("populating 300 images and 500 containers …", flush=True)
        populate(root, work)
        results = {
            "dockyard system df -v": timed(
                lambda: run([*DOCKYARD, "--root", str(root), "system", "df", "-v"]), runs=3),
            "du -s root": timed(lambda: run(["du", "-s", str(root)]), runs=3),
        }
        report("system df -v, 300 images / 500 containers", results, "du -s root")
        shutil.rmtree(root)

        print("\ngenerating a 1 GB, 30-layer image …", flush=True)
        big = work / "big.tar"
        write_image(big, random_layers(30, 300, 110_000, seed=3), tag="bench/big:1",
                    compress=False)
        run([*DOCKYARD, "--root", str(root), "load", "-q", "-i", str(big)])
        big.unlink()
        results = {
            "dockyard image analyze": timed(
                lambda: run([*DOCKYARD, "--root", str(root), "image", "analyze",
                             "bench/big:1", "--format", "json"]), runs=3),
            "du -s snapshots": timed(lambda: run(["du", "-s", str(root / "snapshots")]),
                                     runs=3),
        }
        report("image analyze, 1 GB / 30 layers", results, "du -s snapshots")


if __name__ == "__main__":
    main()
