"""The builder's pure parts: Go formatting, stage checks, metadata, history, context hashing."""

from __future__ import annotations

import json
import os

import pytest

from engine.build import DockerfileError, parse
from engine.build.addcopy import dest_path as _dest_path
from engine.build.context import HashCache, SourceNotFound, Tree, has_wildcards
from engine.build.events import BuildError, BuildEvent, source_excerpt
from engine.build.gofmt import duration_string, go_json, parse_duration, quote_list, quote_rune
from engine.build.instructions import parse_stages
from engine.build.plain import PlainRenderer, error_text
from engine.build.stage import StageState, image_json
from engine.build.steps import _run_string

BUSYBOX = {"architecture": "amd64", "os": "linux",
           "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                      "Cmd": ["sh"], "Hostname": "x", "OnBuild": ["RUN true"]},
           "history": [{"created": "2024-09-26T21:31:42Z", "created_by": "base", "x": 1}],
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]}}


def test_go_durations_and_quoting() -> None:
    assert [duration_string(parse_duration(s)) for s in
            ("30s", "5m", "1h", "1.5s", "300ms", "90s", "0", "1h2m3.5s")] == [
        "30s", "5m0s", "1h0m0s", "1.5s", "300ms", "1m30s", "0s", "1h2m3.5s"]
    for bad, msg in (("1x", 'unknown unit "x"'), ("10", "missing unit"), ("", "invalid")):
        with pytest.raises(ValueError, match=msg):
            parse_duration(bad)
    assert quote_list(["sh", "-c", 'echo "hi"']) == '["sh" "-c" "echo \\"hi\\""]'
    assert [quote_rune(n) for n in (0, 3, 9, 10, 65)] == ["'\\x00'", "'\\x03'", "'\\t'",
                                                         "'\\n'", "'A'"]
    assert go_json({"a": "x && y < z"}) == b'{"a":"x \\u0026\\u0026 y \\u003c z"}'


def test_source_excerpt_matches_buildkit() -> None:
    src = "FROM a\nRUN one\nRUN two\nRUN three\nRUN four\nRUN five\n"
    assert source_excerpt(src, "Dockerfile", 4, 4) == (
        "Dockerfile:4\n--------------------\n   2 |     RUN one\n   3 |     RUN two\n"
        "   4 | >>> RUN three\n   5 |     RUN four\n   6 |     RUN five\n--------------------\n")
    assert source_excerpt(src, "Dockerfile", 1, 1).splitlines()[2:5] == [
        "   1 | >>> FROM a", "   2 |     RUN one", "   3 |     RUN two"]
    assert source_excerpt(src, "Dockerfile", 99, 99) == ""


def test_error_text_has_logs_excerpt_and_reason() -> None:
    err = BuildError("process \"x\" did not complete successfully: exit code: 3", line=2,
                     source="FROM a\nRUN x\n", vertex_name="[2/2] RUN x", logs=["0.1 out"])
    text = error_text(err)
    assert text.startswith("------\n > [2/2] RUN x:\n0.1 out\n------\nDockerfile:2\n")
    assert text.endswith('ERROR: failed to solve: process "x" did not complete successfully: '
                         "exit code: 3\n")


def test_plain_renderer() -> None:
    out: list[str] = []
    show = PlainRenderer(out.append)
    for ev in (BuildEvent("start", 1, "[1/2] RUN x"), BuildEvent("log", 1, text="hi",
                                                                  elapsed=0.25),
               BuildEvent("done", 1, elapsed=0.31), BuildEvent("start", 2, "[2/2] COPY a /"),
               BuildEvent("cached", 2)):
        show(ev)
    assert "".join(out) == ("#1 [1/2] RUN x\n#1 0.250 hi\n#1 DONE 0.3s\n\n#2 [2/2] COPY a /\n"
                            "#2 CACHED\n")


@pytest.mark.parametrize(("text", "message"), [
    ("FROM a\nCOPY --from=x --from=y a b\n", "Duplicate flag specified: from"),
    ("FROM a\nRUN --mount type=cache true\n", None),
    ("FROM a\nCOPY a\n", "COPY requires at least two arguments, but only one was provided. "
     "Destination could not be determined"),
    ("FROM a\nWORKDIR\n", None),
    ("FROM a\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments"),
    ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "--retries cannot be negative (-1)"),
    ("FROM a\nHEALTHCHECK FOO x\n", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
    ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM a\nONBUILD FROM b\n", "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM a b\n", "FROM requires either one or three arguments"),
    ("FROM a\nEXPOSE\n", "EXPOSE requires at least one argument"),
    ("ARG X=1\n", "dockerfile contains no stages to build"),
])
def test_stage_checks(text, message) -> None:
    if message is None:
        with pytest.raises(DockerfileError):
            parse_stages(parse(text))
        return
    with pytest.raises(DockerfileError) as e:
        parse_stages(parse(text))
    assert message in str(e.value)


def test_stages_split_meta_args() -> None:
    meta, stages = parse_stages(parse("ARG A=1\nARG B\nFROM x AS One\nRUN a\nFROM One\n"
                                      "COPY --link --from=one a b\n"))
    assert [c.args for c in meta] == [("A=1",), ("B",)]
    assert [(s.base, s.name, len(s.commands)) for s in stages] == [("x", "one", 1),
                                                                    ("One", "", 1)]
    assert stages[1].commands[0].flags == {"link": "true", "from": "one"}


def state() -> StageState:
    return StageState.from_image(json.loads(json.dumps(BUSYBOX)), name="", escape="\\")


def apply(st: StageState, text: str, args: dict[str, str] | None = None) -> None:
    _, stages = parse_stages(parse("FROM x\n" + text))
    for cmd in stages[0].commands:
        if cmd.keyword == "workdir":
            st.set_workdir(cmd)
        else:
            st.apply(cmd, args or {}, {"TARGETARCH": "amd64"})


def test_base_config_is_trimmed_to_buildkits_fields() -> None:
    st = state()
    assert st.config == {"Env": BUSYBOX["config"]["Env"], "Cmd": ["sh"]}  # no Hostname, OnBuild
    assert st.history == [{"created": "2024-09-26T21:31:42Z", "created_by": "base"}]


def test_metadata_history_strings() -> None:
    st = state()
    apply(st, 'ENV A=1 B="two words"\nLABEL "k"=v\nARG X=$A Y\nARG TARGETARCH\nUSER ${A}\n'
          'WORKDIR sub\nWORKDIR $B\nEXPOSE 80 443/udp\nVOLUME ["/v"]\nSHELL ["/bin/ash", "-c"]\n'
          "CMD echo $A\nENTRYPOINT [\"/e\"]\nSTOPSIGNAL 9\n"
          "HEALTHCHECK --interval=1m30s --retries=10 CMD [\"check\"]\n")
    made = [h["created_by"] for h in st.history[1:]]
    assert made == ["ENV A=1 B=two words", "LABEL k=v", "ARG X=1 Y", "ARG TARGETARCH=amd64",
                    "USER 1", "EXPOSE [443/udp 80/tcp]", "VOLUME [/v]", "SHELL [/bin/ash -c]",
                    'CMD ["/bin/ash" "-c" "echo $A"]', 'ENTRYPOINT ["/e"]', "STOPSIGNAL 9",
                    "HEALTHCHECK {Test:[CMD check] Interval:1m30s Timeout:0s StartPeriod:0s "
                    "StartInterval:0s Retries:10}"]
    assert all(h["empty_layer"] for h in st.history[1:])
    assert st.config["WorkingDir"] == "/sub/two words"
    assert st.config["User"] == "1"
    assert st.config["Env"][1:] == ["A=1", "B=two words"]
    assert st.env["X"] == "1" and "Y" not in st.env and st.env["TARGETARCH"] == "amd64"
    assert st.config["Cmd"] == ["/bin/ash", "-c", "echo $A"]  # set in this stage: kept
    assert _run_string(["/bin/sh", "-c", "x"], st) == (
        "|3 X=1 Y= TARGETARCH=amd64 /bin/sh -c x")


def test_entrypoint_resets_inherited_cmd() -> None:
    st = state()
    apply(st, 'ENTRYPOINT ["/bin/app"]\n')
    assert "Cmd" not in st.config and st.config["Entrypoint"] == ["/bin/app"]
    st2 = state()
    apply(st2, 'CMD ["x"]\nENTRYPOINT ["/bin/app"]\n')
    assert st2.config["Cmd"] == ["x"]


def test_build_arg_overrides_default_and_env_wins_for_expansion() -> None:
    st = state()
    apply(st, "ARG V=default\nENV V=env\nARG W=$V\n", {"V": "given"})
    assert st.env["V"] == "env" and st.env["W"] == "env"
    assert [h["created_by"] for h in st.history[1:]] == ["ARG V=given", "ENV V=env",
                                                         "ARG W=env"]


def test_image_json_orders_keys_and_fills_times() -> None:
    st = state()
    apply(st, "ENV A=1\n")
    st.add_layer("sha256:" + "b" * 64, "sha256:" + "c" * 64, 1700000000.5, "RUN x")
    apply(st, "CMD [\"y\"]\n")
    cfg = json.loads(image_json(st, []))
    assert list(cfg) == ["architecture", "config", "created", "history", "os", "rootfs"]
    assert list(cfg["config"]) == ["Env", "Cmd", "ArgsEscaped"]
    times = [h.get("created") for h in cfg["history"]]
    # metadata before the first new layer takes that layer's time, after it the latest one
    assert times == ["2024-09-26T21:31:42Z", "2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.5Z",
                     "2023-11-14T22:13:20.5Z"]
    assert cfg["created"] == "2023-11-14T22:13:20.5Z"
    assert cfg["history"][2] == {"created": "2023-11-14T22:13:20.5Z",
                                 "created_by": "RUN x # buildkit",
                                 "comment": "buildkit.dockerfile.v0"}


def test_dest_paths() -> None:
    assert _dest_path("/app", ".") == "/app/"
    assert _dest_path("/app", "sub/") == "/app/sub/"
    assert _dest_path("/app", "/abs") == "/abs"
    assert _dest_path("/", "../x") == "/x"


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    for name, data in {"a.txt": "a", "b.txt": "b", "c.md": "c", "dir/x": "x",
                       "dir/sub/y": "y", "skip/z": "z", "keep.log": "k"}.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(data)
    os.symlink("dir/sub", d / "link")
    os.symlink("/etc", d / "escape")
    return d


def test_context_resolve_globs_links_and_ignores(ctx, tmp_path) -> None:
    tree = Tree.context(str(ctx), ["skip", "*.log"], HashCache(str(tmp_path / "h.json")))
    assert tree.resolve("*.txt") == ["a.txt", "b.txt"]
    assert tree.resolve("./dir/../a.txt") == ["a.txt"]
    assert tree.resolve("link") == ["dir/sub"]  # the source itself is followed
    assert tree.resolve("link/y") == ["dir/sub/y"]
    assert tree.resolve("nomatch*") == []
    assert tree.resolve(".") == [""]
    for missing in ("skip/z", "keep.log", "nope", "escape"):  # /etc is not in the context
        with pytest.raises(SourceNotFound):
            tree.resolve(missing)
    assert [p for p, _ in tree.entries("dir")] == ["", "sub", "sub/y", "x"]
    assert has_wildcards("a*") and has_wildcards("[ab]") and not has_wildcards("a\\*")


def test_checksum_ignores_mtime_but_not_content_or_mode(ctx, tmp_path) -> None:
    hashes = HashCache(str(tmp_path / "h.json"))

    def checksum() -> str:
        return Tree.context(str(ctx), [], hashes).checksum(["dir", "a.txt"])

    first = checksum()
    os.utime(ctx / "dir" / "x", (1, 1))
    assert checksum() == first
    (ctx / "dir" / "x").write_text("X")
    changed = checksum()
    assert changed != first
    (ctx / "dir" / "x").chmod(0o600)
    assert checksum() != changed
    hashes.save()
    assert json.loads((tmp_path / "h.json").read_text())["dir/x"][4]
    assert Tree.context(str(ctx), ["dir/x"], hashes).checksum(["dir"]) != changed
