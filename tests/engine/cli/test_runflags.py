"""The click-free parser of ``run``/``create`` reads command lines as click does.

For every command line, :func:`engine.cli.runflags.parse` must either return
exactly the keyword arguments click passes the command, or ``None`` (the
caller then hands the line to click).  For a line click refuses it must
return ``None``, so help and usage errors always come from click.
"""

from __future__ import annotations

import random

import click
import pytest

from engine.cli.container import create_cmd, run_cmd
from engine.cli.group import main as group
from engine.cli.runflags import CREATE_FLAGS, RUN_FLAGS, parse, parse_command_line
from engine.store import default_root

IMG = "busybox:1.37.0-musl"

VALID = [
    [IMG],
    [IMG, "true"],
    ["--rm", "--network", "none", IMG, "true"],
    ["-it", IMG, "sh"],
    ["-dit", "--name", "box", IMG, "sh"],
    ["-ti", "-d", IMG],
    ["-eFOO=bar", "-e", "X=1", "--env=Y=2", "--env", "Z", IMG],
    ["-e=FOO", IMG],  # click's reading: the value is "=FOO"
    ["--name=x", "--name", "y", IMG],  # the last one wins
    ["--name=", IMG],
    ["--name", "--rm", IMG],  # a value that looks like a flag is still the value
    ["--net", "host", IMG],
    ["--network=none", "--net=bridge", IMG],
    ["-h", "myhost", IMG],  # for run, -h is --hostname
    ["-hmyhost", IMG],
    ["-ith", "myhost", IMG],
    ["--hostname=h", IMG],
    ["-v", "/a:/a", "-v/b:/b", "--volume", "c:/c", "--volume=d:/d", IMG],
    ["-l", "a=b", "--label", "c", "-la=", IMG],
    ["-p", "80:80", "-P", "-p8080:80/udp", "--publish=1:1", IMG],
    ["--cpus", "1.5", "--cpus=2", "-c", "512", "-c1024", "--pids-limit", "-1", IMG],
    ["--cpus", " 3 ", "--cpu-shares=+7", "--pids-limit", "1_000", IMG],
    ["--cpus", "inf", IMG],
    ["--stop-timeout", "10", "--stop-signal", "SIGINT", IMG],
    ["-m", "64m", "--memory-swap", "-1", "--memory=1g", IMG],
    ["--entrypoint", "", IMG],
    ["--entrypoint=/bin/sh", IMG, "-c", "echo hi"],
    ["--restart", "always", "--read-only", "--privileged", IMG],
    ["--cap-add", "NET_ADMIN", "--cap-add=SYS_TIME", "--cap-drop", "ALL", IMG],
    ["--mount", "type=tmpfs,dst=/t", "--tmpfs", "/run", "--tmpfs=/tmp", IMG],
    ["--log-opt", "max-size=1m", "--log-opt=max-file=2", IMG],
    ["--runtime", "runc", "--network-alias", "a", "--network-alias=b", IMG],
    ["-w", "/tmp", "-u", "1000:1000", "-wX", "-uroot", IMG],
    ["--env-file", "/dev/null", "--env-file=/x", IMG],
    ["--detach-keys", "ctrl-a", "-d", IMG],
    ["--detach-keys=ctrl-x,ctrl-y", IMG],
    ["--", IMG, "echo"],
    ["--rm", "--", IMG, "--", "-x"],
    ["--rm", "--", "-notaflag"],  # after --, even a dash word is the image
    ["-", "x"],  # a lone dash is an argument: the image "-"
    ["", "x"],
    [IMG, "--rm", "-it", "--help", "-h"],  # after the image: the command's own args
    [IMG, "sh", "-c", "echo $HOME", "--", "--name=x"],
    ["-i", "-i", "-t", "--rm", "--rm", IMG],
]

INVALID = [
    [],
    ["--rm"],  # no image
    ["--rm", "--"],
    ["--help"],
    ["--help", IMG],
    ["--rm", "--help", IMG],
    ["--bogus", IMG],
    ["-x", IMG],
    ["-itx", IMG],
    ["-i=1", IMG],
    ["--rm=true", IMG],
    ["--tty=1", IMG],
    ["--name"],
    ["--name", IMG],  # IMG is the name: no image left
    ["-e"],
    ["-ite"],
    ["--cpus", "abc", IMG],
    ["--cpus=", IMG],
    ["-c", "1.5", IMG],
    ["--pids-limit", "ten", IMG],
    ["--stop-timeout=", IMG],
    ["---rm", IMG],
    ["--nam", "x", IMG],  # click takes no abbreviations
    ["--net-alias", "x", IMG],
]


def click_params(cmd: click.Command, argv: list[str]) -> dict | None:
    """What click passes ``cmd`` for ``argv``, or None when it refuses the line
    (a usage error, or help)."""
    try:
        return dict(cmd.make_context(cmd.name or "", list(argv)).params)
    except (click.UsageError, click.exceptions.Exit):
        return None


def same(ours: dict | None, theirs: dict | None) -> bool:
    """Equal values of equal types (a tuple stays a tuple, 2 is not 2.0)."""
    if ours is None or theirs is None:
        return ours is theirs
    return ours == theirs and all(type(ours[k]) is type(v) for k, v in theirs.items())


@pytest.mark.parametrize("argv", VALID, ids=" ".join)
def test_valid_lines_parse_to_what_click_passes(argv) -> None:
    ours = parse(argv, RUN_FLAGS)
    assert ours is not None
    assert same(ours, click_params(run_cmd, argv))


@pytest.mark.parametrize("argv", INVALID, ids=lambda a: " ".join(a) or "(empty)")
def test_what_click_refuses_is_left_to_click(argv) -> None:
    assert parse(argv, RUN_FLAGS) is None
    assert click_params(run_cmd, argv) is None


@pytest.mark.parametrize("argv", VALID + INVALID, ids=lambda a: " ".join(a) or "(empty)")
def test_create_reads_as_click_does(argv) -> None:
    """Without -d and --detach-keys: lines that use them are refused by both."""
    assert same(parse(argv, CREATE_FLAGS), click_params(create_cmd, argv))


def test_create_has_no_run_flags() -> None:
    for argv in (["-d", IMG], ["--detach-keys", "x", IMG], ["-dit", IMG]):
        assert parse(argv, CREATE_FLAGS) is None
        assert click_params(create_cmd, argv) is None
        assert parse(argv, RUN_FLAGS) is not None


def test_the_click_options_are_the_table() -> None:
    """One table: click's options for run and create are generated from it."""
    for cmd, flags in ((run_cmd, RUN_FLAGS), (create_cmd, CREATE_FLAGS)):
        options = [p for p in cmd.params if isinstance(p, click.Option)]
        assert [(o.name, tuple(o.opts), o.multiple, o.is_flag, o.help) for o in options] == [
            (f.dest, f.spellings, f.multiple, f.kind is bool, f.help) for f in flags]


def _random_line(rng: random.Random) -> list[str]:
    spellings = [s for f in RUN_FLAGS for s in f.spellings]
    words = ["--", "-", "", "-x", "--bogus", "--help", "-h", "5", "-1", "1.5", "abc", "a=b",
             IMG, "sh", "=", "-=", "--rm=1", "--name=", "-it", "-dit", "-eA=1", "-c2", "-ti"]
    shorts = [s[1] for s in spellings if len(s) == 2] + ["x", "="]
    line = []
    for _ in range(rng.randrange(0, 7)):
        pick = rng.random()
        if pick < 0.5:
            line.append(rng.choice(spellings))
        elif pick < 0.65:
            line.append("-" + "".join(rng.choice(shorts) for _ in range(rng.randrange(1, 4))))
        elif pick < 0.75:
            line.append(rng.choice([s for s in spellings if s.startswith("--")]) + "="
                        + rng.choice(words))
        else:
            line.append(rng.choice(words))
    return line


@pytest.mark.parametrize("seed", range(4))
def test_random_lines_agree_with_click(seed) -> None:
    """Both give the same keyword arguments, or both refuse the line."""
    rng = random.Random(seed)
    valid = 0
    for _ in range(1500):
        argv = _random_line(rng)
        ours = parse(argv, RUN_FLAGS)
        assert same(ours, click_params(run_cmd, argv)), argv
        valid += ours is not None
    assert 100 < valid < 1400  # the lines reach both outcomes


@pytest.mark.parametrize(("options", "root"), [
    ([], None), (["--root", "/r"], "/r"), (["--root=/r"], "/r"),
    (["--root", "/a", "--root", "/b"], "/b"), (["--root", "--help"], "--help"),
    (["--root="], ""),
])
@pytest.mark.parametrize("words", [["run"], ["container", "run"], ["create"],
                                   ["container", "create"]], ids=" ".join)
def test_the_global_options_read_as_the_group_reads_them(options, root, words,
                                                          monkeypatch) -> None:
    monkeypatch.delenv("DOCKYARD_ROOT", raising=False)
    tail = ["-it", "--name=x", IMG, "sh"]
    parsed = parse_command_line([*options, *words, *tail])
    assert parsed is not None
    assert parsed[:2] == (root, words[-1])
    cmd = run_cmd if words[-1] == "run" else create_cmd
    assert same(parsed[2], click_params(cmd, tail))
    ctx = group.make_context("dockyard", [*options, *words, *tail])
    assert ctx.params["root"] == (default_root() if root is None else root)


@pytest.mark.parametrize("argv", [
    [], ["ps"], ["-h"], ["--help", "run", IMG], ["-h", "run", IMG], ["--root"],
    ["--", "run", IMG], ["--bogus", "run", IMG], ["container"], ["container", "ls"],
    ["container", "--help", "run", IMG], ["container", "container", "run", IMG],
    ["run", "--help"], ["run"], ["start", "x"], ["run", "--bogus", IMG],
])
def test_other_command_lines_go_to_click(argv) -> None:
    assert parse_command_line(argv) is None
