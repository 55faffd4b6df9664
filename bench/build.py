"""Benchmark: ``dockyard build`` of a 12-step Dockerfile with a 5,000-file context.

Three builds of the same Dockerfile, each timed end to end (CLI included):

- **cold** — a fresh root holding only the base image, empty build cache;
- **cached** — the same context again: every step ``CACHED``;
- **one file changed** — one byte of one of the 5,000 files: the COPY of
  the context and every step after it run again, the steps before it are
  cached.

Peer, side by side in the same run: ``podman build`` of the same context
(a private storage root, the base image loaded from the same archive, runc
and cgroupfs as on this host crun refuses the hybrid cgroup layout, the
ulimits root may set here, ``--network=none`` like dockyard's RUN steps);
its storage is reset afterwards.  Always: a builder-less floor for the cold
build, ``tar`` of the context into a flat copy of the base rootfs plus one
bare ``runc run`` per RUN step (no layers, no cache, no image) — what the
work itself costs here.

Prints medians, spreads and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DOCKYARD, SHARED, have, report, run, timed  # noqa: E402

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
    results["dockyard one file changed"] = timed(lambda: run([*d, *build]), runs=RUNS,
                                                 setup=one_file_change(ctx))
    return results


def one_file_change(ctx: Path) -> Callable[[], None]:
    """A setup that changes one byte of one file, differently each run (never cached)."""
    target = ctx / "src" / "d25" / "f2500.txt"
    original = target.read_text()
    flip = [0]

    def change() -> None:
        flip[0] += 1
        target.write_text(original[:-2] + str(flip[0] % 10) + "\n")

    return change


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


PODMAN_BUILD = ["--pull=never", "--network=none", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768"]


def podman(work: Path) -> list[str] | None:
    """podman on its own storage, with runc (crun refuses this host's hybrid cgroups)."""
    if not have("podman"):
        print("  (podman is not installed here: no podman numbers in this run)")
        return None
    return ["podman", "--root", str(work / "podman"), "--runroot", str(work / "podman-run"),
            "--runtime", "runc", "--cgroup-manager", "cgroupfs"]


def podman_builds(pod: list[str], ctx: Path) -> dict[str, list[float]]:
    """The same three builds with ``podman build`` (its layer cache is on by default)."""
    build = [*pod, "build", "-q", *PODMAN_BUILD, "-t", "bench:latest", str(ctx)]

    def wipe() -> None:  # no image, no intermediate layer: only the base, loaded again
        subprocess.run([*pod, "rmi", "-af"], capture_output=True)
        run([*pod, "load", "-q", "-i", str(ARCHIVE)])

    results = {"podman cold": timed(lambda: run(build), runs=RUNS, setup=wipe)}
    results["podman cached"] = timed(lambda: run(build), runs=RUNS)
    results["podman one file changed"] = timed(lambda: run(build), runs=RUNS,
                                               setup=one_file_change(ctx))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-build-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        ctx = make_context(work / "ctx")
        print(f"12-step Dockerfile, {FILES} files in the context, {RUNS} runs each")
        results = dockyard_builds(work, ctx)
        base = floor(work, ctx)
        if base is not None:
            results["floor: tar + bare runc x4"] = base
        pod = podman(work)
        try:
            if pod is not None:
                run([*pod, "load", "-q", "-i", str(ARCHIVE)])
                results.update(podman_builds(pod, ctx))
        finally:
            if pod is not None:  # unmount its storage, or the temp dir cannot go
                subprocess.run([*pod, "system", "reset", "-f"], capture_output=True)
        report("dockyard build: cold, fully cached, one file changed", results,
               "dockyard cold")
        if base is not None:
            report("  … against the builder-less floor", {
                k: v for k, v in results.items() if k in ("dockyard cold",
                                                          "floor: tar + bare runc x4")},
                "floor: tar + bare runc x4")
        if pod is not None:
            for phase in ("cold", "cached", "one file changed"):
                report(f"  … {phase}: dockyard against podman", {
                    k: results[k] for k in (f"dockyard {phase}", f"podman {phase}")},
                    f"podman {phase}")
            ours = statistics.median(results["dockyard cached"])
            theirs = statistics.median(results["podman cached"])
            verdict = "met" if ours <= theirs / 2 else "NOT met"
            print(f"\ntarget (cached rebuild at most half of podman's): {verdict} — "
                  f"{ours / theirs:.2f}x podman's time")


if __name__ == "__main__":
    main()
