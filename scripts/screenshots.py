"""Generate SVG and PNG screenshots of every pane of the real TUI with real data.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--size 120x36] [--no-png]

(``make screenshots`` installs rsvg-convert and runs this.)

A temp root gets real images: the shared fixture images when they are there
(busybox musl/glibc, the kaniko-built one), two generated images that share
a base layer, a second tag, and (as root) a running and an exited
container, so each pane has something to show.  The
app runs headless (``App.run_test``) and each pane is saved with
``App.save_screenshot`` as ``<pane>.svg`` (plus ``<pane>-80x24.svg``).
Each SVG is then rendered to ``<name>.png`` with ``rsvg-convert``
(librsvg2-bin), for viewers that cannot show SVG.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine import Engine  # noqa: E402
from tests.imagegen import layer_tar, write_image  # noqa: E402
from tui.app import DockyardApp  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures" / "images"
ARCHIVES = ("busybox-1.37.0-musl-amd64-oci.tar", "busybox-1.37.0-glibc-amd64-oci.tar",
            "kaniko-busybox-docker-archive.tar")


def populate(engine: Engine, tmp: Path) -> None:
    for name in ARCHIVES:
        path = FIXTURES / name
        if path.exists():
            with open(path, "rb") as f:
                engine.load(f)
    if not engine.images():  # no fixtures here: the demo workspace's busybox
        from engine.demo import ensure_demo

        ensure_demo(engine)
    base = layer_tar([("usr/lib/runtime.so", b"r" * 2_000_000)])
    for i, name in enumerate(("web", "worker")):
        out = tmp / f"{name}.tar"
        app = layer_tar([(f"srv/{name}/app.py", b"#" * (150_000 * (i + 1)))])
        write_image(out, [base, app], tag=f"example/{name}:1.0")
        with open(out, "rb") as f:
            engine.load(f)
    first = engine.images()[0]
    if first.repo_tags:
        engine.tag(first.repo_tags[0], first.repo_tags[0].rpartition(":")[0] + ":latest")


def run_containers(engine: Engine) -> list[str]:
    """A running container that writes logs and grows its writable layer, and
    an exited one, so the Containers pane has rows (needs root and crun/runc;
    without them the pane shows its empty state)."""
    from engine.errors import EngineError
    from engine.runtime.options import CreateOptions

    image = next((t for i in engine.images() for t in i.repo_tags
                  if t.startswith("busybox")), "")
    if not image:
        return []
    made = []
    try:
        web = engine.create(CreateOptions(image=image, name="web", network="none", command=[
            "sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); "
            "echo request $i; head -c 4096 /dev/zero >> /tmp/cache.bin; sleep 0.5; done"]))
        made.append(web)
        engine.start(web)
        job = engine.create(CreateOptions(image=image, name="migrate", network="none",
                                          command=["sh", "-c", "echo migrated; exit 3"]))
        made.append(job)
        engine.start(job)
        engine.wait(job)
    except (EngineError, OSError) as e:
        print(f"containers skipped: {e}", file=sys.stderr)
    return made


async def shoot(engine: Engine, out: Path, size: tuple[int, int], suffix: str) -> list[Path]:
    app = DockyardApp(engine, poll_interval=0.1)
    saved = []
    async with app.run_test(size=size) as pilot:
        while not app.main.images_pane.loaded:
            await pilot.pause(0.05)
        pane = app.main.images_pane
        shared = next((r for r in pane.shown if r.obj.ref.startswith("example/web")), None)
        if shared:
            pane.select_key(shared.key)
        for key, name in (("2", "images"), ("3", "layers"), ("4", "disk"),
                          ("1", "containers")):
            await pilot.press(key)
            deadline = time.monotonic() + 10
            while not app.main.pane(name).loaded and time.monotonic() < deadline:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            path = out / f"{name}{suffix}.svg"
            app.save_screenshot(path.name, str(out))
            saved.append(path)
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot(f"help{suffix}.svg", str(out))
        saved.append(out / f"help{suffix}.svg")
    return saved


# Rich's SVG asks for Fira Code (from a CDN rsvg never fetches), else
# "monospace"; name a font Debian has (fonts-dejavu-core) before that.
_FONTS = ((re.compile(r"font-family: Fira Code, monospace;"),
           'font-family: "Fira Code", "DejaVu Sans Mono", monospace;'),
          (re.compile(r"font-family: arial;"), 'font-family: arial, "DejaVu Sans", sans-serif;'))


def to_png(svg: Path) -> Path:
    """Render ``svg`` next to itself as a PNG.  librsvg strips the leading and
    trailing no-break spaces of each text run (Rich pads runs with them), so
    the copy it reads keeps its whitespace (``xml:space="preserve"``)."""
    text = svg.read_text()
    for pattern, fonts in _FONTS:
        text = pattern.sub(fonts, text)
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "--format", "png", "--output", str(png)],
                   input=text.encode(), check=True)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "screenshots"))
    ap.add_argument("--size", default="120x36", help="WIDTHxHEIGHT of the main set")
    ap.add_argument("--no-png", action="store_true", help="SVG only (no rsvg-convert)")
    args = ap.parse_args(argv)
    png = not args.no_png
    if png and shutil.which("rsvg-convert") is None:
        ap.error("rsvg-convert is missing: `make screenshots` installs it (librsvg2-bin), "
                 "or pass --no-png")
    width, height = (int(n) for n in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dockyard-shots-") as tmp:
        with Engine(str(Path(tmp) / "root")) as engine:
            populate(engine, Path(tmp))
            made = run_containers(engine)
            try:
                saved = asyncio.run(shoot(engine, out, (width, height), ""))
                saved += asyncio.run(shoot(engine, out, (80, 24), "-80x24"))
            finally:
                for cid in made:
                    engine.remove_container(cid, force=True)
    if png:
        saved += [to_png(path) for path in saved]
    for path in saved:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
