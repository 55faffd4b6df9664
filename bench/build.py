"""Benchmark: ``dockyard build`` of a 12-step Dockerfile with a 5,000-file context.

Three builds of the same Dockerfile, each timed end to end (CLI included):

- **cold** — a fresh root holding only the base image, empty build cache;
- **cached** — the same context again: every step ``CACHED``;
- **one file changed** — one byte of one of the 5,000 files: the COPY of
  the context and every step after it run again, the steps before it are
  cached.

Peers, side by side in the same run: ``podman build`` and ``buildah bud``
(each in a private root, base image loaded from the same archive) when
installed; otherwise a note.  Always: a builder-less floor for the cold
build, ``tar`` of the context into a flat copy of the base rootfs plus one
bare ``runc run`` per RUN step (no layers, no cache, no image) — what the
work itself costs here.

Prints medians, spreads and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, SHARED, have, report, run, timed  # noqa: E402

# `python -m engine`, with `build` registered even before engine/cli/__init__.py does it
DOCKYARD = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); from "
            "engine.cli import main, build; 'build' in main.commands or build.register(main); "
            "main(sys.argv[1:], prog_name='dockyard')"]

IMAGE = "busybox:1.37.0-musl"
ARCHIVE = SHARED / "fixtures/images/busybox-1.37.0-musl-amd64-oci.tar"
FILES = 5000
RUNS = 5
RUN_STEPS = [
    "find . -type f | wc -l > /count",
    "mkdir -p /out && cat src/*/*.txt | wc -c > /out/bytes",
    "adduser -D -u 1000 app",
    "sha1sum /etc/app.conf > /out/sum && chown -R app /out",
]
DOCKERFILE = f"""\
FROM {IMAGE}
ARG VERSION=1.0
ENV APP=/app
WORKDIR /app
COPY . .
RUN {RUN_STEPS[0]}
RUN {RUN_STEPS[1]}
RUN {RUN_STEPS[2]}
COPY config.txt /etc/app.conf
RUN {RUN_STEPS[3]}
USER app
CMD ["cat", "/out/bytes"]
"""


def make_context(ctx: Path) -> Path:
    """5,000 small files in 50 directories, plus the Dockerfile and a config file."""
    for i in range(FILES):
        d = ctx / "src" / f"d{i // 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:04d}.txt").write_text(f"file {i}\n" * (1 + i % 7))
    (ctx / "config.txt").write_text("setting=1\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / ".dockerignore").write_text("*.tmp\n")
    return ctx


def fresh_root(work: Path) -> list[str]:
    root = work / f"root-{uuid.uuid4().hex[:8]}"
    d = [*DOCKYARD, "--root", str(root)]
    run([*d, "load", "-q", "-i", str(ARCHIVE)])
    return d


def dockyard_builds(work: Path, ctx: Path) -> dict[str, list[float]]:
    roots: list[list[str]] = []
    build = ["build", "-q", "-t", "bench:latest", str(ctx)]

    def setup_cold() -> None:
        roots.append(fresh_root(work))

    results = {"dockyard cold": timed(lambda: run([*roots[-1], *build]), runs=RUNS,
                                      setup=setup_cold)}
    d = roots[-1]
    results["dockyard cached"] = timed(lambda: run([*d, *build]), runs=RUNS)
    target = ctx / "src" / "d25" / "f2500.txt"
    original = target.read_text()
    flip = [0]

    def change() -> None:  # one byte, different every run, so nothing is cached
        flip[0] += 1
        target.write_text(original[:-2] + str(flip[0] % 10) + "\n")

    results["dockyard one file changed"] = timed(lambda: run([*d, *build]), runs=RUNS,
                                                 setup=change)
    target.write_text(original)
    return results


def floor(work: Path, ctx: Path) -> list[float] | None:
    """tar of the context into a flat rootfs + bare runc per RUN step."""
    runc = shutil.which("runc")
    if runc is None:
        print("  (runc is not installed: no builder-less floor)")
        return None
    d = fresh_root(work)
    cid = subprocess.run([*d, "create", "--network", "none", IMAGE, "true"], capture_output=True,
                         text=True, check=True).stdout.strip()
    run([*d, "start", "-a", cid])  # writes the bundle's config.json
    root = Path(d[-1])
    base = work / "flat-base"
    base.mkdir()
    exp = subprocess.Popen([*d, "export", cid], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(base)], stdin=exp.stdout, check=True)
    exp.wait()
    spec = json.loads((root / "containers" / cid / "config.json").read_text())
    bundle = work / "floor"
    state = work / "floor-state"

    def setup() -> None:
        shutil.rmtree(bundle, ignore_errors=True)
        bundle.mkdir()
        subprocess.run(["cp", "-a", str(base), str(bundle / "rootfs")], check=True)

    def work_only() -> None:
        (bundle / "rootfs" / "app").mkdir(exist_ok=True)
        tar = subprocess.Popen(["tar", "-c", "-C", str(ctx), "."], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(bundle / "rootfs" / "app")], stdin=tar.stdout,
                       check=True)
        tar.wait()
        shutil.copy(ctx / "config.txt", bundle / "rootfs" / "etc" / "app.conf")
        for step in RUN_STEPS:
            s = json.loads(json.dumps(spec))
            s["root"] = {"path": "rootfs", "readonly": False}
            s["process"]["args"] = ["/bin/sh", "-c", step]
            s["process"]["cwd"] = "/app"
            s["mounts"] = [m for m in s["mounts"] if not m["destination"].startswith("/etc/")]
            s["linux"]["cgroupsPath"] = f"/dockyard-bench/{uuid.uuid4().hex[:12]}"
            (bundle / "config.json").write_text(json.dumps(s))
            run([runc, "--root", str(state), "run", "--bundle", str(bundle),
                 f"floor-{uuid.uuid4().hex[:8]}"])

    times = timed(work_only, runs=RUNS, setup=setup)
    run([*d, "rm", cid])
    return times


def peers(work: Path, ctx: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for tool in ("podman", "buildah"):
        if not have(tool):
            print(f"  ({tool} is not installed here: no {tool} numbers in this run)")
            continue
        store = ["--root", str(work / tool), "--runroot", str(work / f"{tool}-run")]
        run([tool, *store, "pull", f"docker-archive:{ARCHIVE}"] if tool == "buildah" else
            [tool, *store, "load", "-q", "-i", str(ARCHIVE)])
        cmd = [tool, *store, "build" if tool == "podman" else "bud", "-q", "--network=none",
               "-t", "bench:latest", str(ctx)]
        def wipe(tool: str = tool, store: list[str] = store) -> None:
            subprocess.run([tool, *store, "rmi", "-af"], capture_output=True)
            run([tool, *store, "pull", f"docker-archive:{ARCHIVE}"] if tool == "buildah" else
                [tool, *store, "load", "-q", "-i", str(ARCHIVE)])

        out[f"{tool} cold"] = timed(lambda cmd=cmd: run(cmd), runs=RUNS, setup=wipe)
        out[f"{tool} cached"] = timed(lambda cmd=cmd: run(cmd), runs=RUNS)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-build-") as tmp:
        work = Path(tmp)
        ctx = make_context(work / "ctx")
        print(f"12-step Dockerfile, {FILES} files in the context, {RUNS} runs each")
        results = dockyard_builds(work, ctx)
        base = floor(work, ctx)
        if base is not None:
            results["floor: tar + bare runc x4"] = base
        results.update(peers(work, ctx))
        report("dockyard build: cold, fully cached, one file changed", results,
               "dockyard cold")
        if base is not None:
            report("  … against the builder-less floor", {
                k: v for k, v in results.items() if k in ("dockyard cold",
                                                          "floor: tar + bare runc x4")},
                "floor: tar + bare runc x4")
        for tool in ("podman", "buildah"):
            if f"{tool} cold" in results:
                report(f"  … against {tool}", results, f"{tool} cached")


if __name__ == "__main__":
    main()
