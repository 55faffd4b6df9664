"""``image analyze`` / ``image layers``: dive's figures, checked by hand and
against dive's own published figures, and the reclaimable bytes per step.

Every number asserted here is worked out in the comment beside it from the
layers the test builds, so a wrong figure cannot hide behind a snapshot."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from engine import Engine
from engine.usage.analyze import Entry, analyze_image
from engine.usage.dive_ci import (
    dive_figures,
    evaluate,
    go_float,
    humanize_bytes,
    parse_bytes,
    parse_dive_ci,
)
from tests.conftest import KANIKO, REPO
from tests.imagegen import layer_tar


# -- building images -----------------------------------------------------------------
def layer(*items: tuple) -> bytes:
    """A layer tar from ("f", path, data[, mode[, uid]]), ("d", path[, mode]), ("w", path)
    (whiteout), ("o", dir) (opaque marker), ("h", path, target) (hard link);
    missing parent directories are added first, mode 0755."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()

        def add(name: str, kind: bytes, data: bytes = b"", mode: int = 0o644,
                uid: int = 0, link: str = "") -> None:
            parts = name.split("/")[:-1]
            for i in range(len(parts)):
                d = "/".join(parts[: i + 1])
                if d not in dirs:
                    dirs.add(d)
                    add(d, tarfile.DIRTYPE, mode=0o755)
            if kind == tarfile.DIRTYPE:
                dirs.add(name)
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime, ti.size, ti.linkname = kind, mode, 1_700_000_000, \
                len(data), link
            ti.uid = ti.gid = uid
            tar.addfile(ti, io.BytesIO(data) if data else None)

        for kind, path, *rest in items:
            if kind == "f":
                add(path, tarfile.REGTYPE, rest[0], *rest[1:])
            elif kind == "d":
                add(path, tarfile.DIRTYPE, b"", *rest)
            elif kind == "w":
                head, _, name = path.rpartition("/")
                add(f"{head}/.wh.{name}" if head else f".wh.{name}", tarfile.REGTYPE, mode=0)
            elif kind == "o":
                add(f"{path}/.wh..wh..opq", tarfile.REGTYPE, mode=0)
            elif kind == "h":
                add(path, tarfile.LNKTYPE, link=rest[0])
    return buf.getvalue()


def docker_archive(out: Path, layers: list[bytes], steps: list[str], *, tag: str) -> str:
    """A docker-archive whose history is ``steps``; a step starting with "#"
    made no layer (empty_layer).  Returns the image ID."""
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": s.lstrip("#"),
                **({"empty_layer": True} if s.startswith("#") else {})} for s in steps]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "created": "2024-01-01T00:00:00Z", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": history}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [tag],
                            "Layers": names}]).encode()
    with tarfile.open(out, "w") as tar:
        for name, data in [*zip(names, layers, strict=True), (f"{config_hex}.json", config),
                           ("manifest.json", manifest)]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return "sha256:" + config_hex


def load(engine: Engine, archive: Path) -> None:
    with open(archive, "rb") as f:
        engine.load(f)


def cli(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "engine", "--root", str(root), *args],
                          capture_output=True, cwd=cwd or REPO, env=env)


# -- a Dockerfile's worth of waste, by hand ---------------------------------------------
BIN, PASSWD, BIG, KEEP = b"s" * 1000, b"p" * 100, b"b" * 5000, b"k" * 300
APP, CONF, PASSWD2 = b"a" * 2000, b"c" * 50, b"q" * 120
STEPS = ["ADD rootfs.tar /", "#CMD [\"sh\"]", "COPY app.bin config /app/",
         "RUN chmod 755 /app/app.bin", "RUN mv /app/config /etc/app.conf", "#ENV X=1",
         "RUN rm -rf /data", "COPY app.bin /app/", "RUN echo root > /etc/passwd"]
WASTE_LAYERS = [
    layer(("f", "bin/sh", BIN), ("f", "etc/passwd", PASSWD), ("f", "data/big", BIG),
          ("f", "data/keep", KEEP)),                                   # L0, step 0
    layer(("f", "app/app.bin", APP), ("f", "app/config", CONF)),      # L1, step 2
    layer(("f", "app/app.bin", APP, 0o755)),                         # L2, step 3: chmod only
    layer(("w", "app/config"), ("f", "etc/app.conf", CONF)),          # L3, step 4: a move
    layer(("w", "data")),                                             # L4, step 6: rm -rf
    layer(("f", "app/app.bin", APP, 0o755)),                         # L5, step 7: same again
    layer(("f", "etc/passwd", PASSWD2)),                              # L6, step 8: new content
]


@pytest.fixture
def waste(engine, tmp_path):
    image_id = docker_archive(tmp_path / "w.tar", WASTE_LAYERS, STEPS, tag="waste:1")
    load(engine, tmp_path / "w.tar")
    return analyze_image(engine.store, engine.image_store, engine.snapshots, image_id)


def test_dive_figures_by_hand(waste) -> None:
    d = waste.dive
    # leaves per layer (size): L0 /bin/sh 1000, /etc/passwd 100, /data/big 5000,
    # /data/keep 300 | L1 /app/app.bin 2000, /app/config 50 | L2 /app/app.bin 2000 |
    # L3 whiteout /app/config (a file below: 0), /etc/app.conf 50 | L4 whiteout /data
    # (a dir below: 5000 + 300) | L5 /app/app.bin 2000 | L6 /etc/passwd 120.
    # totals: sh 1000, passwd 220, big 5000, keep 300, app.bin 6000, config 50,
    # app.conf 50, /data 5300 = 17920; minimums: 1000+100+5000+300+2000+0+50+5300 = 13750
    assert d.efficiency == 13750 / 17920
    assert d.size_bytes == 6400 + 2050 + 2000 + 50 + 0 + 2000 + 120 == 12620
    assert d.user_size_bytes == 12620 - 6400
    assert d.wasted_bytes == 6000 + 220 + 50  # paths in 2+ layers
    assert d.user_wasted_percent == 6270 / 6220  # dive's ratio can pass 1
    assert [(f.path, f.count, f.wasted_bytes) for f in d.inefficient_files] == [
        ("/app/app.bin", 3, 6000), ("/etc/passwd", 2, 220), ("/app/config", 2, 50)]


def test_reclaimable_bytes_attributed_to_the_step_that_wasted_them(waste) -> None:
    # the final image needs sh 1000 + passwd(new) 120 + app.bin 2000 + app.conf 50
    assert waste.final_size == 3170
    assert waste.reclaimable_bytes == 12620 - 3170 == 9450
    got = {(s.step, c.cause): (c.bytes, [(w.path, w.stored_step) for w in c.files])
           for s in waste.by_step for c in s.causes}
    assert got == {
        (3, "chmod"): (2000, [("/app/app.bin", 2)]),        # same bytes, mode 644 → 755
        (4, "moved"): (50, [("/app/config", 2)]),           # mv: whiteout + same bytes
        (6, "removed"): (5300, [("/data/big", 0), ("/data/keep", 0)]),
        (7, "duplicate"): (2000, [("/app/app.bin", 3)]),    # same bytes, same mode
        (8, "overwritten"): (100, [("/etc/passwd", 0)]),
    }
    assert [s.created_by for s in waste.by_step][:2] == ["RUN chmod 755 /app/app.bin",
                                                        "RUN mv /app/config /etc/app.conf"]
    hints = {c.cause: c.hint for s in waste.by_step for c in s.causes}
    assert hints["chmod"].startswith("chmod/chown copy (same content, metadata change)")
    assert hints["duplicate"].startswith("duplicate copy (same content re-added)")
    assert hints["removed"].startswith("file removed in a later step")


def test_layer_changes(waste) -> None:
    by_layer = {lr.index: [(c.kind, c.path, c.size) for c in lr.changes]
                for lr in waste.layers}
    assert [lr.step for lr in waste.layers] == [0, 2, 3, 4, 6, 7, 8]
    assert by_layer[2] == [("modified", "/app/app.bin", 2000)]
    assert by_layer[3] == [("removed", "/app/config", 50), ("added", "/etc/app.conf", 50)]
    assert by_layer[4] == [("removed", "/data", 5300)]
    assert by_layer[6] == [("modified", "/etc/passwd", 120)]
    assert ("added", "/app", 0) in by_layer[1]


def test_hard_links_and_opaque_dirs(engine, tmp_path) -> None:
    layers = [layer(("f", "opt/x", b"x" * 100), ("f", "lib/a", b"l" * 700),
                    ("h", "lib/b", "lib/a")),
              layer(("d", "opt"), ("o", "opt"), ("f", "opt/y", b"y" * 10), ("w", "lib/a"))]
    image_id = docker_archive(tmp_path / "o.tar", layers, ["base", "update"], tag="o:1")
    load(engine, tmp_path / "o.tar")
    a = analyze_image(engine.store, engine.image_store, engine.snapshots, image_id)
    # /lib/b still shows the 700 bytes /lib/a stored: only the opaque /opt hid /opt/x
    assert (a.final_size, a.reclaimable_bytes) == (710, 100)
    assert [(c.kind, c.path, c.size) for c in a.layers[1].changes] == [
        ("removed", "/lib/a", 700), ("modified", "/opt", 0), ("removed", "/opt/x", 100),
        ("added", "/opt/y", 10)]
    # dive: a hard link's header size is 0; dive drops opaque markers, so /opt/x is
    # simply not in layer 1; whiteout /lib/a (a file below) counts 0
    assert (a.dive.size_bytes, a.dive.wasted_bytes) == (810, 700)
    assert a.dive.efficiency == (100 + 0 + 0 + 10 + 0) / (100 + 700 + 0 + 10)


def test_chown_copy_and_a_later_move_of_a_hard_link(engine, tmp_path) -> None:
    layers = [layer(("f", "x", b"x" * 10), ("f", "y", b"y" * 20), ("h", "z", "y")),
              layer(("f", "x", b"x" * 10, 0o644, 1000)),   # chown: same bytes, new owner
              layer(("w", "y"), ("f", "w", b"y" * 20))]     # y and its hard link z: z stays
    image_id = docker_archive(tmp_path / "c.tar", layers, ["a", "b", "c"], tag="c:1")
    load(engine, tmp_path / "c.tar")
    a = analyze_image(engine.store, engine.image_store, engine.snapshots, image_id)
    assert [(s.step, c.cause, c.bytes) for s in a.by_step for c in s.causes] == [
        (1, "chmod", 10)]
    assert (a.final_size, a.reclaimable_bytes, a.dive.size_bytes) == (50, 10, 60)


def e(path: str, kind: str = "file", size: int = 0) -> Entry:
    return Entry(path, kind, size, 0o644, 0, 0)  # type: ignore[arg-type]


def test_dive_quirks_are_ported() -> None:
    assert dive_figures([]).efficiency == 1.0  # empty image
    assert dive_figures([[e("/d", "dir")]]).efficiency == 1.0
    # a whiteout of a path no layer below has: dive stops counting that layer and
    # leaves a -1 in the minimum sum (/.wh.ghost sorts before /z, so /z is never seen)
    fig = dive_figures([[e("/a", size=100)], [e("/ghost", "whiteout"), e("/z", size=40)]])
    assert fig.efficiency == (100 - 1) / 100
    assert (fig.size_bytes, fig.user_size_bytes, fig.wasted_bytes) == (140, 40, 0)
    # dive stacks the layers below ignoring opaque dirs: the whiteout of /d then
    # counts /d/x (hidden by the opaque /d since layer 1) as well as /d/y
    fig = dive_figures([[e("/d", "dir"), e("/d/x", size=100)],
                        [Entry("/d", "dir", 0, 0o755, 0, 0, opaque=True), e("/d/y", size=5)],
                        [e("/d", "whiteout")]])
    assert fig.efficiency == (100 + 5 + 105) / (100 + 5 + 105)
    assert fig.inefficient_files == ()
    assert fig.user_wasted_percent == 0.0


def test_kaniko_fixture_matches_dive(engine) -> None:
    """dive's own test data: .data/test-kaniko-image.tar, built by kaniko from
    dive's .data/Dockerfile.test-image.  dive publishes exact figures for the
    same Dockerfile built by Docker (.data/test-docker-image.tar, README.md then
    6405 bytes, base layer 1154361 bytes): efficiency 0.9844212134184309, size
    1220598, user size 66237, wasted 32025, user wasted 0.4834911001404049,
    inefficient /root/saved.txt 12810, somefile1.txt 12810, somefile3.txt 6405
    (dive/image/docker/image_archive_analysis_test.go, export_test.snap).
    The same arithmetic reproduces them, then gives kaniko's (README 9249 bytes,
    base 1231733 bytes) — which the engine must compute from the layers."""

    def dive_expected(base: int, readme: int) -> tuple[float, int, int, int, float]:
        # user leaves: somefile, somefile1 ×2, somefile2, somefile3, saved (mv),
        # .saved, again1, again2, saved (chmod +x): 10 × readme; .scripts: 917 + 1270;
        # whiteout somefile3 (a file) 0; whiteout /root/example = somefile1 + somefile2
        user_total = 10 * readme + 2187 + 2 * readme
        user_min = user_total - readme - readme - readme  # somefile1, saved: one copy; sf3: 0
        user = 10 * readme + 2187
        wasted = 2 * readme + 2 * readme + readme
        return ((base + user_min) / (base + user_total), base + user, user, wasted,
                wasted / user)

    assert dive_expected(1154361, 6405) == (0.9844212134184309, 1220598, 66237, 32025,
                                            0.4834911001404049)
    load(engine, KANIKO)
    a = analyze_image(engine.store, engine.image_store, engine.snapshots,
                      engine.resolve_image("dive-test:kaniko-latest"))
    d = a.dive
    assert (d.efficiency, d.size_bytes, d.user_size_bytes, d.wasted_bytes,
            d.user_wasted_percent) == dive_expected(1231733, 9249)
    assert [(f.path, f.count, f.wasted_bytes) for f in d.inefficient_files] == [
        ("/root/saved.txt", 2, 18498), ("/root/example/somefile1.txt", 2, 18498),
        ("/root/example/somefile3.txt", 2, 9249)]
    # ours: chmod 444 (step 5), mv (8), rm -rf (10, two files), chmod +x (14)
    assert a.reclaimable_bytes == 5 * 9249 and a.final_size == d.size_bytes - 5 * 9249
    assert [(s.step, [c.cause for c in s.causes], s.bytes) for s in a.by_step] == [
        (5, ["chmod"], 9249), (8, ["moved"], 9249), (10, ["removed"], 18498),
        (14, ["chmod"], 9249)]


# -- dive's CI rules ----------------------------------------------------------------------
def test_go_formatting_and_byte_parsing() -> None:
    assert [humanize_bytes(n) for n in (0, 9, 131, 6405, 12810, 32025, 1220598)] == [
        "0 B", "9 B", "131 B", "6.4 kB", "13 kB", "32 kB", "1.2 MB"]
    assert [parse_bytes(s) for s in ("20MB", "20Mb", "19Mb", "50kB", "1B", "1,000", "2 KiB",
                                     "1.5gb", "7")] == [
        20_000_000, 20_000_000, 19_000_000, 50_000, 1, 1000, 2048, 1_500_000_000, 7]
    for bad in ("disabled", "MB", "20 XB", " 20MB"):
        with pytest.raises(ValueError):
            parse_bytes(bad)
    assert [go_float(x) for x in (0.1, 0.4834911001404049, 1e6, 123456.0, 1e-5, 0.0001)] == [
        "0.1", "0.4834911001404049", "1e+06", "123456", "1e-05", "0.0001"]


def test_dive_ci_file_parsing() -> None:
    text = ("---\nplugins:\n  - plugin1\n\nrules:\n  # below X%, fail\n"
            "  lowestEfficiency: 0.95\n\n  highestWastedBytes: 20Mb  # a comment\n"
            "  highestUserWastedPercent: '0.10'\n\n  plugin1/rule1: error\n"
            "other:\n  lowestEfficiency: 0.1\n")
    assert parse_dive_ci(text) == {"lowestEfficiency": "0.95", "highestWastedBytes": "20Mb",
                                   "highestUserWastedPercent": "0.10"}
    assert parse_dive_ci('rules:\n  lowest-efficiency: "0.8"\n  highest-wasted-bytes: '
                         "disabled\n") == {"lowestEfficiency": "0.8",
                                           "highestWastedBytes": "disabled"}
    with pytest.raises(Exception, match=r"ci.yml:2: expected 'key: value'"):
        parse_dive_ci("rules:\n  lowestEfficiency 0.9\n", label="ci.yml")


def test_ci_rules_like_dives_evaluator_test(waste) -> None:
    # dive's Test_Evaluator cases, on an image with efficiency 0.767, wasted 6270 B,
    # user wasted 1.008
    fail = evaluate(waste.dive, {"lowestEfficiency": "0.99", "highestWastedBytes": "1B",
                                 "highestUserWastedPercent": "0.01"})
    assert not fail.passed and {r.status for r in fail.results} == {"FAIL"}
    ok = evaluate(waste.dive, {"lowestEfficiency": "0.7", "highestWastedBytes": "50kB",
                               "highestUserWastedPercent": "disabled"})
    assert ok.passed and [r.status for r in ok.results] == ["SKIP", "PASS", "PASS"]
    bad = evaluate(waste.dive, {"lowestEfficiency": "1.5"})
    assert bad.misconfigured and not bad.passed
    assert "outside allowed range (0-1), given '1.5'" in bad.results[2].message


def test_cli_analyze_json_human_and_ci_exit_codes(engine, root, tmp_path) -> None:
    docker_archive(tmp_path / "w.tar", WASTE_LAYERS, STEPS, tag="waste:1")
    load(engine, tmp_path / "w.tar")
    engine.close()
    doc = json.loads(cli(root, "image", "analyze", "waste:1", "--format", "json").stdout)
    assert {"efficiency", "size_bytes", "user_size_bytes", "wasted_bytes",
            "user_wasted_percent", "inefficient_files", "reclaimable_bytes"} <= doc.keys()
    assert doc["inefficient_files"][0] == {"path": "/app/app.bin", "count": 3,
                                           "wasted_bytes": 6000}
    assert (doc["wasted_bytes"], doc["reclaimable_bytes"]) == (6270, 9450)
    assert doc["reclaimable_by_step"][0]["causes"][0]["cause"] == "chmod"
    human = cli(root, "image", "analyze", "waste:1")
    assert human.returncode == 0
    assert "efficiency:          76.7299 %" in human.stdout.decode()
    assert "hint: chmod/chown copy" in human.stdout.decode()

    passing = tmp_path / "pass.yaml"
    passing.write_text("rules:\n  lowestEfficiency: 0.7\n  highestWastedBytes: 20MB\n"
                       "  highestUserWastedPercent: disabled\n")
    r = cli(root, "image", "analyze", "waste:1", "--ci", "--ci-config", str(passing))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[-4:] == [
        "  SKIP: highestUserWastedPercent: rule disabled", "  PASS: highestWastedBytes",
        "  PASS: lowestEfficiency",
        "Result:PASS [Total:3] [Passed:2] [Failed:0] [Warn:0] [Skipped:1]"]
    assert f"  Using CI config: {passing}" in r.stdout.decode()

    work = tmp_path / "work"
    work.mkdir()
    (work / ".dive-ci").write_text("rules:\n  lowestEfficiency: \"0.95\"\n")  # found in cwd
    r = cli(root, "image", "analyze", "waste:1", "--ci", cwd=work)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "  FAIL: lowestEfficiency: image efficiency is too low (efficiency=" \
           f"{go_float(13750 / 17920)} < threshold=0.95)" in out
    assert "  FAIL: highestUserWastedPercent" in out  # dive's default 0.1 applies
    assert "    3        6.0 kB  /app/app.bin" in out
    assert out.endswith("Result:FAIL [Total:3] [Passed:0] [Failed:2] [Warn:0] [Skipped:1]\n")

    r = cli(root, "image", "analyze", "waste:1", "--ci", "--format", "json", "--ci-config",
            str(passing))
    assert r.returncode == 0 and json.loads(r.stdout)["ci"]["passed"] is True
    missing = cli(root, "image", "analyze", "waste:1", "--ci", "--ci-config",
                  str(tmp_path / "nope"))
    assert missing.returncode != 0 and b"nope" in missing.stderr
    assert cli(root, "image", "analyze", "waste:1", "--ci-config", str(passing)).returncode \
        == 125  # a usage error, as without --ci dive ignores the file
    assert cli(root, "image", "analyze", "nosuch:1").returncode == 1


def test_cli_layers(engine, root, tmp_path) -> None:
    docker_archive(tmp_path / "w.tar", WASTE_LAYERS, STEPS, tag="waste:1")
    load(engine, tmp_path / "w.tar")
    engine.close()
    out = cli(root, "image", "layers", "waste:1", "--layer", "3").stdout.decode()
    assert out.splitlines()[0].startswith("LAYER 3  ")
    assert out.splitlines()[0].endswith("50B  RUN mv /app/config /etc/app.conf")
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["removed", "50B", "/app/config"], ["added", "50B", "/etc/app.conf"]]
    docs = json.loads(cli(root, "image", "layers", "waste:1", "--format", "json").stdout)
    assert [d["index"] for d in docs] == list(range(7))
    assert docs[4]["changes"] == [{"kind": "removed", "path": "/data", "type": "dir",
                                   "size_bytes": 5300}]
    top = json.loads(cli(root, "image", "layers", "waste:1", "--layer", "-1", "--format",
                         "json").stdout)
    assert [d["created_by"] for d in top] == ["RUN echo root > /etc/passwd"]
    r = cli(root, "image", "layers", "waste:1", "--layer", "7")
    assert r.returncode == 125 and b"out of range: the image has 7 layers" in r.stderr


def test_analyze_of_a_generated_image_agrees_with_its_tar(engine, tmp_path) -> None:
    from tests.imagegen import write_image

    layers = [layer_tar([("a/x", b"1" * 10), ("a/y", b"2" * 20)]),
              layer_tar([("a/x", b"3" * 30), ("b/z", b"")])]
    image_id = write_image(tmp_path / "g.tar", layers, tag="gen:1")
    load(engine, tmp_path / "g.tar")
    a = analyze_image(engine.store, engine.image_store, engine.snapshots, image_id)
    assert (a.dive.size_bytes, a.dive.user_size_bytes, a.dive.wasted_bytes) == (60, 30, 40)
    assert a.dive.efficiency == (10 + 20 + 0) / (40 + 20 + 0)
    assert (a.final_size, a.reclaimable_bytes) == (50, 10)
