"""``dockyard build`` end to end: real RUN containers on the busybox fixture."""

from __future__ import annotations

import pytest

from tests.engine.build.test_build_support import (
    build,
    config_blob,
    dy,
    image,
    image_ids,
    steps,
    write,
)
from tests.engine.runtime.conftest import IMAGE, croot  # noqa: F401 - the fixture

MULTI = f"""\
ARG BASE={IMAGE}
FROM ${{BASE}} AS builder
ARG GREETING=hello
ENV OUT=/out
WORKDIR /src
COPY src/ ./
RUN mkdir -p $OUT && cat *.txt > $OUT/all.txt && echo "$GREETING from builder" > $OUT/greeting

FROM {IMAGE} AS unused
RUN exit 1

FROM ${{BASE}}
RUN adduser -D -u 1234 app
USER app
WORKDIR /home/app
COPY --from=builder --chown=app /out/ ./
COPY --chmod=0755 run.sh /usr/local/bin/
ENV NAME=world
CMD ["/usr/local/bin/run.sh"]
"""
RUN_SH = ('#!/bin/sh\necho "user=$(id -u):$(id -g) dir=$(pwd) name=$NAME"\n'
          "cat greeting all.txt\nls -A\n")


@pytest.fixture
def multi(tmp_path):
    return write(tmp_path / "ctx", {
        "Dockerfile": MULTI, "run.sh": RUN_SH, "src/1.txt": "one\n", "src/2.txt": "two\n",
        "src/skip.txt": "skipped\n", "secret.txt": "no\n",
        ".dockerignore": "# not sent\nsecret.txt\nsrc/skip.txt\n"})


def test_multistage_build_then_run(croot, multi) -> None:  # noqa: F811
    r = build(croot, multi, "-t", "multi:1", "--build-arg", "GREETING=hi")
    seen = steps(r.stderr)
    # the unused stage (whose RUN fails) is never built
    assert not any("unused" in s or "exit 1" in s for s in seen)
    assert seen["[builder 4/4] RUN mkdir -p /out && cat *.txt > /out/all.txt && echo \"hi from "
                "builder\" > /out/greeting"] == "DONE"
    (multi / "run.sh").chmod(0o644)  # --chmod decides the mode in the image, not the context
    out = dy(croot, "run", "--rm", "multi:1").stdout.decode().splitlines()
    # USER and WORKDIR hold; the ignored file never reached the builder stage's *.txt
    assert out == ["user=1234:1234 dir=/home/app name=world", "hi from builder", "one", "two",
                   "all.txt", "greeting"]
    ls = dy(croot, "run", "--rm", "multi:1", "ls", "-ln", "/usr/local/bin/run.sh",
            "/home/app/all.txt").stdout.decode()
    assert "-rwxr-xr-x    1 0        0" in ls and "-rw-r--r--    1 1234     1234" in ls


def test_config_and_history_look_like_buildkit(croot, multi) -> None:  # noqa: F811
    build(croot, multi, "-t", "multi:1", "--label", "org.example=yes")
    cfg = config_blob(croot, "multi:1")
    assert list(cfg) == ["architecture", "config", "created", "history", "os", "rootfs"]
    c = cfg["config"]
    assert c["User"] == "app" and c["WorkingDir"] == "/home/app"
    assert c["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "NAME=world"]
    assert c["Cmd"] == ["/usr/local/bin/run.sh"] and c["ArgsEscaped"] is True
    assert c["Labels"] == {"org.example": "yes"}
    ours = [(h["created_by"], bool(h.get("empty_layer"))) for h in cfg["history"][1:]]
    assert ours == [
        ("RUN /bin/sh -c adduser -D -u 1234 app # buildkit", False),
        ("USER app", True),
        ("WORKDIR /home/app", True),  # adduser made it: no change, no layer
        ("COPY --chown=app /out/ ./ # buildkit", False),
        ("COPY --chmod=0755 run.sh /usr/local/bin/ # buildkit", False),
        ("ENV NAME=world", True),
        ('CMD ["/usr/local/bin/run.sh"]', True),
    ]
    assert all(h["comment"] == "buildkit.dockerfile.v0" for h in cfg["history"][1:])
    assert len(cfg["rootfs"]["diff_ids"]) == 4
    assert cfg["created"] == cfg["history"][-1]["created"]
    hist = dy(croot, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "multi:1")
    assert "RUN /bin/sh -c adduser -D -u 1234 app # buildkit" in hist.stdout.decode()


def test_cache_touch_keeps_it_and_a_byte_change_rebuilds_from_there(croot, multi) -> None:  # noqa: F811
    build(croot, multi, "-t", "c:1")
    id1 = image(croot, "c:1")["Id"]
    (multi / "src" / "1.txt").touch()
    (multi / "run.sh").touch()
    again = steps(build(croot, multi, "-t", "c:2").stderr)
    layer_steps = {k: v for k, v in again.items() if "[internal]" not in k}
    assert set(layer_steps.values()) == {"CACHED"}, again
    assert image(croot, "c:2")["Id"] == id1  # a fully cached build gives the same image
    (multi / "src" / "2.txt").write_text("twO\n")  # one byte
    changed = steps(build(croot, multi, "-t", "c:3").stderr)
    assert changed["[builder 1/4] FROM docker.io/library/busybox:1.37.0-musl@"
                   "sha256:29989570aeecad61a019f684218ea74d4b8c1c74f9e0abeb34ca926b81174ee1"] \
        == "CACHED"
    assert changed["[builder 2/4] WORKDIR /src"] == "CACHED"
    assert changed["[builder 3/4] COPY src/ ./"] == "DONE"
    assert next(v for k, v in changed.items() if k.startswith("[builder 4/4] RUN")) == "DONE"
    assert changed["[stage-2 2/5] RUN adduser -D -u 1234 app"] == "CACHED"
    assert changed["[stage-2 4/5] COPY --from=builder --chown=app /out/ ./"] == "DONE"
    assert "twO" in dy(croot, "run", "--rm", "c:3").stdout.decode()
    # an ignored file may change freely
    (multi / "secret.txt").write_text("changed\n")
    quiet = steps(build(croot, multi, "-t", "c:4").stderr)
    assert {v for k, v in quiet.items() if "[internal]" not in k} == {"CACHED"}


def test_no_cache_reruns_every_step(croot, multi) -> None:  # noqa: F811
    build(croot, multi, "-t", "n:1")
    seen = steps(build(croot, multi, "--no-cache", "-t", "n:1").stderr)
    assert [v for k, v in seen.items() if " RUN " in k] == ["DONE", "DONE"]


def test_target_iidfile_and_quiet(croot, multi, tmp_path) -> None:  # noqa: F811
    iid = tmp_path / "iid"
    r = dy(croot, "build", "-q", "--target", "builder", "--iidfile", str(iid), "-t", "b:1",
           str(multi))
    image_id = r.stdout.decode().strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert r.stderr == b""
    assert iid.read_text() == image_id
    assert image(croot, "b:1")["Id"] == image_id
    assert image(croot, "b:1")["Config"]["WorkingDir"] == "/src"
    out = dy(croot, "run", "--rm", "b:1", "cat", "/out/greeting").stdout
    assert out == b"hello from builder\n"


def test_failing_run_reports_code_and_line_and_keeps_no_image(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\nRUN echo one > /one\n\n# the next step fails\n"
        "RUN echo partial; exit 3\nRUN echo never\n")})
    before = image_ids(croot)
    r = build(croot, ctx, "-t", "broken:1", check=False)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert err.endswith('ERROR: failed to solve: process "/bin/sh -c echo partial; exit 3" did '
                        "not complete successfully: exit code: 3\n")
    assert "Dockerfile:5\n" in err and "   5 | >>> RUN echo partial; exit 3\n" in err
    assert " > [3/4] RUN echo partial; exit 3:\n" in err and " partial\n" in err
    assert "#6 ERROR: process" in err and "never" not in err.split("Dockerfile:5")[0]
    assert image_ids(croot) == before  # no image, not even a dangling one
    r = dy(croot, "image", "inspect", "broken:1", check=False)
    assert r.returncode != 0
    # the finished step is build cache, not an image, and builder prune can take it
    from engine import Engine
    from engine.build.cache import cache_usage, prune_cache

    with Engine(str(croot)) as eng:
        usage = cache_usage(eng)
        assert usage.count >= 1 and usage.size > 0
        rep = prune_cache(eng)
        assert rep.reclaimed == usage.size and cache_usage(eng).size == 0
    assert "0 problems, 0 orphans" in dy(croot, "system", "check").stdout.decode()
    # the step runs again once the cache is gone
    fixed = write(ctx, {"Dockerfile": f"FROM {IMAGE}\nRUN echo one > /one\n"})
    assert steps(build(croot, fixed).stderr)["[2/2] RUN echo one > /one"] == "DONE"


@pytest.mark.parametrize(("dockerfile", "line", "message"), [
    (f"FROM {IMAGE}\nRUN true\nFOO bar\n", 3,
     "dockerfile parse error on line 3: unknown instruction: FOO (did you mean FROM?)"),
    (f"FROM {IMAGE}\nCOPY --foo=bar a /\n", 2,
     "dockerfile parse error on line 2: Unknown flag: foo"),
    (f"FROM {IMAGE}\nCOPY --link=maybe a /\n", 2,
     "dockerfile parse error on line 2: Expecting boolean value for flag link, not: maybe"),
    (f"FROM {IMAGE}\nCOPY --chown a /\n", 2,
     "dockerfile parse error on line 2: Missing a value on flag: chown"),
    (f"FROM {IMAGE}\nRUN --network=bridge true\n", 2,
     'dockerfile parse error on line 2: unsupported network mode "bridge"'),
    ("ENV A=b\nFROM busybox\n", 1, "no build stage in current context"),
    (f"FROM {IMAGE}\nSHELL /bin/bash -c\n", 2,
     "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"),
    (f"FROM {IMAGE} AS 1st\n", 1, 'dockerfile parse error on line 1: invalid name for build '
     "stage: \"1st\", name can't start with a number or contain symbols"),
    (f"FROM {IMAGE}\nCOPY nope.txt /\n", 2, '"/nope.txt": not found'),
    (f"FROM {IMAGE}\nCOPY ignored.txt /\n", 2, '"/ignored.txt": not found'),
    (f"FROM {IMAGE}\nHEALTHCHECK --interval=1x CMD true\n", 2,
     'dockerfile parse error on line 2: time: unknown unit "x" in duration "1x"'),
    (f"FROM {IMAGE}\nUSER nobody-here\nRUN true\n", 3,
     "unable to find user nobody-here: no matching entries in passwd file"),
])
def test_errors_name_the_line(croot, tmp_path, dockerfile, line, message) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile, "ignored.txt": "x",
                                   ".dockerignore": "ignored.txt\n"})
    r = build(croot, ctx, check=False)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert message in err.splitlines()[-1], err
    assert err.splitlines()[-1].startswith("ERROR: failed to solve: ")
    assert f"Dockerfile:{line}\n" in err and f"{line:>4} | >>> " in err


def test_unknown_target_and_missing_dockerfile(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM {IMAGE} AS a\n"})
    r = build(croot, ctx, "--target", "nope", check=False)
    assert r.returncode == 1
    assert r.stderr.decode().endswith('ERROR: failed to solve: target stage "nope" could not '
                                      "be found\n")
    r = build(croot, ctx, "-f", "Nope.Dockerfile", check=False)
    assert r.returncode == 1 and b"no such file or directory" in r.stderr
    r = dy(croot, "build", "-t", "Bad:Tag!", str(ctx), check=False)
    assert r.returncode == 125 and b"invalid reference format" in r.stderr


def test_dockerfile_from_stdin_and_custom_name(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"app.Dockerfile": f"FROM {IMAGE}\nCOPY . /ctx/\n",
                                   "app.Dockerfile.dockerignore": "skip\n", "skip": "x",
                                   "keep": "y"})
    build(croot, ctx, "-f", str(ctx / "app.Dockerfile"), "-t", "named:1")
    out = dy(croot, "run", "--rm", "named:1", "ls", "/ctx").stdout.decode().split()
    assert out == ["app.Dockerfile", "app.Dockerfile.dockerignore", "keep"]
    r = dy(croot, "build", "-q", "-f", "-", str(ctx),
           input=f"FROM {IMAGE}\nRUN echo piped > /p\n".encode())
    image_id = r.stdout.decode().strip()
    assert dy(croot, "run", "--rm", image_id, "cat", "/p").stdout == b"piped\n"


def test_engine_build_is_a_generator_of_events_and_can_be_cancelled(croot, tmp_path) -> None:  # noqa: F811
    import threading
    import time

    from engine import Cancelled, Engine
    from engine.build.events import BuildOptions
    from engine.build.executor import build as build_events

    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM {IMAGE}\nRUN echo one; echo two >&2\n"})
    with Engine(str(croot)) as eng:
        evs = list(build_events(eng, BuildOptions(context=str(ctx), tags=["gen:1"])))
        run = [e for e in evs if e.name == "[2/2] RUN echo one; echo two >&2"]
        assert [e.kind for e in run] == ["start", "log", "log", "done"]
        assert {(e.text, e.stream) for e in run if e.kind == "log"} == {("one", 1), ("two", 2)}
        assert evs[-1].kind == "result" and evs[-1].image_id == eng.resolve_image("gen:1")

        write(ctx, {"Dockerfile": f"FROM {IMAGE}\nRUN echo started; sleep 60\n"})
        cancel = threading.Event()
        before = {s.id for s in eng.images()}
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            for ev in build_events(eng, BuildOptions(context=str(ctx), cancel=cancel)):
                if ev.kind == "log" and ev.text == "started":
                    cancel.set()
        assert time.monotonic() - t0 < 20
        assert {s.id for s in eng.images()} == before
    assert "0 problems, 0 orphans" in dy(croot, "system", "check").stdout.decode()
    assert not list((croot / "tmp").iterdir())


def test_tty_progress_renders(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM {IMAGE}\nRUN echo hi\n"})
    r = dy(croot, "build", "--progress=tty", "-t", "tty:1", str(ctx))
    err = r.stderr.decode()
    assert "[+] Building" in err and "[2/2] RUN echo hi" in err
