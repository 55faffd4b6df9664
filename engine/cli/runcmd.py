"""``create`` and ``run``: what they do, without click.

The click commands in ``container.py`` are thin wrappers around
:func:`create` and :func:`run`; :func:`fast_main` calls the same functions
straight from the command line when :func:`.runflags.parse_command_line`
understands it, so ``dockyard run`` never imports click.  Anything it does
not understand goes to click (``engine/cli/__init__.py``), which then prints
its usual help or error.  Engine errors end as the group's do
(:func:`.handler.one_line_errors`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import EngineError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from ..api import Engine
    from ..runtime.options import CreateOptions

__all__ = ["build_options", "create", "env_file", "fast_main", "run"]


def env_file(path: str) -> list[str]:
    """The ``NAME=value`` lines of an ``--env-file`` (a bare ``NAME`` takes
    our environment's value, or is dropped)."""
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    out = []
    for line in lines:
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            val = os.environ.get(line)
            if val is None:
                continue
            line = f"{line}={val}"
        out.append(line)
    return out


def build_options(image: str, command: Sequence[str], kw: dict) -> CreateOptions:
    """:class:`CreateOptions` from the flags of :data:`.runflags.CREATE_FLAGS`."""
    from ..runtime.options import CreateOptions, parse_size

    env = [e for f in kw["env_file"] for e in env_file(f)]
    for e in kw["env"]:
        if "=" not in e:  # -e NAME takes the value from our environment
            if e in os.environ:
                env.append(f"{e}={os.environ[e]}")
            continue
        env.append(e)
    labels = dict(item.split("=", 1) if "=" in item else (item, "") for item in kw["label"])
    log_opts = {}
    for o in kw["log_opt"]:
        k, eq, v = o.partition("=")
        if not eq or k not in ("max-size", "max-file"):
            raise InvalidArgument(f"unknown log opt '{k}' for json-file log driver")
        log_opts[k] = v
    swap = kw["memory_swap"]
    return CreateOptions(
        image=image, command=command, name=kw["name"], entrypoint=kw["entrypoint"],
        env=env, workdir=kw["workdir"], user=kw["user"], hostname=kw["hostname"],
        labels=labels, tty=kw["tty"], interactive=kw["interactive"], restart=kw["restart"],
        auto_remove=kw["auto_remove"], network=kw["network"], privileged=kw["privileged"],
        cap_add=kw["cap_add"], cap_drop=kw["cap_drop"], read_only=kw["read_only"],
        memory=parse_size(kw["memory"], what="memory") if kw["memory"] else 0,
        memory_swap=-1 if swap == "-1" else (parse_size(swap) if swap else 0),
        cpus=kw["cpus"], cpu_shares=kw["cpu_shares"], pids_limit=kw["pids_limit"],
        volumes=kw["volume"], mounts=kw["mount"], tmpfs=kw["tmpfs"], log_opts=log_opts,
        stop_signal=kw["stop_signal"], stop_timeout=kw["stop_timeout"], runtime=kw["runtime"],
        publish=kw["publish"], publish_all=kw["publish_all"],
        network_aliases=kw["network_alias"])


def _create(eng: Engine, opts: CreateOptions) -> str:
    try:
        return eng.create(opts)
    except NotFound as e:  # no such image: docker's run/create exit 125 for it
        e.exit_code = 125
        raise


def _echo(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def create(eng: Engine, image: str, command: Sequence[str], kw: dict) -> None:
    """``dockyard create``: create the container, print its ID."""
    _echo(_create(eng, build_options(image, command, kw)))


def run(eng: Engine, image: str, command: Sequence[str], kw: dict, *, detach: bool,
        detach_keys: str) -> int | None:
    """``dockyard run``: create and start the container, then either print its
    ID (``detach``) or attach to it until it exits; the exit code to leave
    with (``None``: leave with 0 — detached, or by the detach keys)."""
    opts = build_options(image, command, kw)
    cid = _create(eng, opts)
    try:
        if detach:
            eng.start(cid)
            _echo(cid)
            return None
        client = eng.start(cid, attach=True)
    except EngineError:
        if opts.auto_remove:
            eng.remove_container(cid, force=True)
        raise
    from .stream import pump

    code = pump(client, stdin=opts.interactive, tty=opts.tty, detach_keys=detach_keys,
                keep_open=opts.auto_remove)
    if code is None:  # detached with the key sequence
        return None
    if opts.auto_remove:
        try:  # while still attached, so the monitor leaves the removal to us
            eng.container_store.wait(cid)
            eng.remove_container(cid, force=True)
        except NotFound:
            pass
        finally:
            client.close()
    else:
        code = eng.wait(cid) if client.exit_code is None else code
    return code


def fast_main(argv: Sequence[str]) -> bool:
    """Run ``[--root X] [container] run|create …`` without click; False
    (having done nothing) for a command line :mod:`.runflags` does not
    understand, which the caller then hands to click.  Otherwise it returns
    True when the command succeeded, or exits as the click group would."""
    if any(k[:1] == "_" and k.endswith("_COMPLETE") for k in os.environ):
        return False  # click's shell completion is asking
    from .runflags import parse_command_line

    parsed = parse_command_line(argv)
    if parsed is None:
        return False
    root, name, flags = parsed
    kw: dict = flags  # the command's keyword arguments, as click would pass them
    from .handler import one_line_errors, root_problem

    with one_line_errors():
        problem = root_problem(name)
        if problem:
            sys.stderr.write(f"Error: {problem}\n")
            sys.exit(1)
        if root is None:  # the group's default: DOCKYARD_ROOT, else the standard root
            from ..store import default_root

            root = default_root()
        from .. import Engine

        eng = Engine(root)
        try:
            image, command = kw.pop("image"), kw.pop("command")
            if name == "create":
                create(eng, image, command, kw)
                return True
            code = run(eng, image, command, kw, detach=kw.pop("detach"),
                       detach_keys=kw.pop("detach_keys"))
        finally:
            eng.close()
        if code is not None:
            sys.exit(code)
    return True
