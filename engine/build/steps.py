"""The layer-making steps: RUN, COPY, ADD and WORKDIR.

Each step first computes its cache key (``cache.cache_key``) from the
parent state's key and everything that decides its result, then either
reuses the cached layer (``CACHED``) or runs in a fresh workspace
(``layer.Workspace``), commits what it wrote and records it.  The history
entry is BuildKit's (``RUN /bin/sh -c make # buildkit``, ``COPY a /b #
buildkit``, ``WORKDIR /app``); a step that changed nothing adds an
``empty_layer`` entry and no DiffID.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

from engine.build.cache import cache_key, mounts_dir
from engine.build.context import SourceNotFound
from engine.build.events import BuildError, BuildEvent
from engine.build.instructions import Command
from engine.build.layer import Workspace
from engine.build.run import RunSpec, run_step
from engine.build.session import secret_mount, ssh_mount
from engine.build.stage import PROXY_ARGS, StageState
from engine.errors import Cancelled, EngineError, InvalidArgument
from engine.runtime.rootpath import read_file_in, secure_join
from engine.runtime.spec import Mount

if TYPE_CHECKING:
    from engine.build.executor import Builder

__all__ = ["layer_step", "run_cmd", "workdir_step"]

Execute = Callable[[Workspace, int], Iterator[BuildEvent]]


def layer_step(b: Builder, st: StageState, cmd: Command, title: str, key: str,
               created_by: str, execute: Execute, *, buildkit: bool = True) -> Iterator[BuildEvent]:
    """Run (or reuse) one layer-making step and add its history entry."""
    n = b.progress.start(title)
    yield b.progress.event("start", n)
    hit = None if b.opts.no_cache else b.cache.lookup(key)
    if hit is not None and hit.chain_id:
        b.lease.add("layer", hit.chain_id)
        if not b.store.db.one("SELECT 1 FROM layers WHERE chain_id = ?", (hit.chain_id,)):
            hit = None  # pruned between the lookup and our lease: run the step
    if hit is not None:
        st.add_layer(hit.diff_id, hit.chain_id, hit.created, created_by, buildkit=buildkit)
        yield b.progress.event("cached", n)
    else:
        ws = Workspace.open(b.store, b.snapshots, b.lease, st.chain)
        try:
            yield from execute(ws, n)
            diff, chain, size = ws.commit()
        except BaseException:
            ws.discard()
            raise
        created = b.cache.record(key, parent=st.chain, chain=chain, diff_id=diff, size=size,
                                 description=title.split("] ", 1)[-1])
        st.add_layer(diff, chain, created, created_by, buildkit=buildkit)
        yield b.progress.event("done", n)
    st.key = key


# -- WORKDIR ------------------------------------------------------------------

def workdir_step(b: Builder, st: StageState, cmd: Command, wd: str) -> Iterator[BuildEvent]:
    title = st.title(_upper_first(st.expand_display(cmd.inst.original)), onbuild=cmd.onbuild)
    user = st.user
    key = cache_key(st.key, "workdir", wd, user)

    def execute(ws: Workspace, n: int) -> Iterator[BuildEvent]:
        uid, gid = _chown(ws.rootfs, user, cmd, for_user=True) if user else (0, 0)
        parts = [p for p in wd.split("/") if p]
        for i in range(1, len(parts) + 1):
            path = secure_join(ws.rootfs, "/" + "/".join(parts[:i]))
            if not os.path.lexists(path):
                os.mkdir(path, 0o755)
                os.chown(path, uid, gid)
        return iter(())

    yield from layer_step(b, st, cmd, title, key, f"WORKDIR {wd}", execute, buildkit=False)


# -- RUN ------------------------------------------------------------------------

def run_cmd(b: Builder, st: StageState, cmd: Command) -> Iterator[BuildEvent]:
    args = list(cmd.args)
    display = cmd.inst.original
    files: list[tuple[str, str]] = []
    if cmd.inst.heredocs and not cmd.inst.json_form:
        doc = cmd.inst.heredocs[0]
        data = doc.chomped()
        if _single_heredoc(args[0]):
            if data.startswith("#!"):
                files.append((doc.name, data))
                args = [f"/dev/pipes/{doc.name}"]
            else:
                args = st.shell() + [data]
            summary = doc.content.strip().replace("\r\n", "\n").split("\n")
            display += f" ({summary[0]}{'...' if len(summary) > 1 else ''})"
        else:
            text = args[0]
            for d in cmd.inst.heredocs:
                text += "\n" + d.content + d.name
            args = st.shell() + [text]
    elif not cmd.inst.json_form:
        args = st.shell() + [" ".join(args)]
    title = st.title(_upper_first(st.expand_display(display)), onbuild=cmd.onbuild)
    network = cmd.flag("network") or "default"
    if network == "default":
        network = "host" if b.opts.network == "host" else "none"
    env = [f"{k}={v}" for k, v in st.env.items()]
    proxy = [f"{k}={v}" for k, v in b.opts.build_args.items() if k in PROXY_ARGS]
    mounts, idents = _run_mounts(b, st, cmd)
    key = cache_key(st.key, "run", args, env, st.workdir, st.user, network, idents,
                    cmd.flag("security"), files)
    created_by = "RUN " + _run_string(args, st)

    def execute(ws: Workspace, n: int) -> Iterator[BuildEvent]:
        spec = RunSpec(args=args, env=env + [p for p in proxy if p.split("=")[0] not in st.env],
                       cwd=st.workdir, user=st.user, network=network)
        for kind, target, source, opts in mounts:
            if kind == "cache":
                spec.binds.append(Mount(target, "bind", source, ("rbind", "rprivate", *opts)))
                if "locked" in opts:
                    spec.locks.append(source + ".lock")
            elif kind == "bind-rw":
                spec.overlays.append((source, target))
            elif kind == "bind":
                spec.binds.append(Mount(target, "bind", source, ("rbind", "rprivate", "ro")))
            elif kind == "secret":
                spec.secrets.append(source)
            elif kind == "ssh":
                spec.sockets.append(source)
            else:
                spec.binds.append(Mount(target, "tmpfs", "tmpfs", ("nosuid", "nodev", *opts)))
        if files:
            pipes = os.path.join(ws.dir, "pipes")
            os.mkdir(pipes, 0o755)
            for name, data in files:
                with open(os.path.join(pipes, name), "w") as f:
                    f.write(data)
                os.chmod(os.path.join(pipes, name), 0o755)
            spec.binds.append(Mount("/dev/pipes", "bind", pipes, ("rbind", "rprivate", "ro")))
        try:
            code = yield from _relay(b, n, run_step(b.engine.runtime(), ws, spec, b.opts.cancel))
        except Cancelled:
            raise
        except EngineError as e:
            raise st.error(str(e), cmd) from None
        if code != 0:
            raise st.error(f'process "{" ".join(args)}" did not complete successfully: '
                           f"exit code: {code}", cmd)

    yield from layer_step(b, st, cmd, title, key, created_by, execute)


def _single_heredoc(word: str) -> bool:
    from engine.build.dockerfile import parse_heredoc

    return parse_heredoc(word) is not None


def _relay(b: Builder, n: int,
           gen: Generator[tuple[int, str], None, int]) -> Generator[BuildEvent, None, int]:
    """Turn the container's output lines into log events of vertex ``n``."""
    while True:
        try:
            stream, line = next(gen)
        except StopIteration as stop:
            return int(stop.value)
        yield b.progress.event("log", n, text=line, stream=stream)


def _run_string(args: list[str], st: StageState) -> str:
    """BuildKit's ``runCommandString``: ``|2 A=1 B= /bin/sh -c …`` when ARGs are in scope."""
    ordered: list[str] = []
    seen: dict[str, int] = {}
    for key, value in st.build_args:
        v = st.env.get(key, value if value is not None else "")
        if key in seen:
            ordered[seen[key]] = f"{key}={v}"
        else:
            seen[key] = len(ordered)
            ordered.append(f"{key}={v}")
    if not ordered:
        return " ".join(args)
    return " ".join([f"|{len(ordered)}", *ordered, *args])


def _run_mounts(b: Builder, st: StageState, cmd: Command) -> tuple[list[tuple], list]:
    """``--mount`` flags → (kind, target, source, options) and their cache identities."""
    out: list[tuple] = []
    idents: list = []
    n_ssh = 0
    for spec in cmd.multi.get("mount", []):
        fields: dict[str, str] = {}
        for part in spec.split(","):
            k, eq, v = part.partition("=")
            k = k.strip().lower()
            if k not in ("type", "target", "dst", "destination", "source", "src", "from", "ro",
                         "readonly", "rw", "readwrite", "id", "sharing", "mode", "uid", "gid",
                         "required", "size", "env"):
                raise st.error(f"unexpected key '{k}' in '{part}'", cmd)
            fields[k] = st.expand(v, cmd) if eq else "true"
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
        if kind in ("secret", "ssh"):
            try:
                got = secret_mount(fields, dict(b.opts.secrets), st.workdir) if kind == \
                    "secret" else ssh_mount(fields, dict(b.opts.ssh), st.workdir, n_ssh)
            except InvalidArgument as e:
                raise st.error(str(e), cmd) from None
            n_ssh += kind == "ssh"
            if got is not None:
                out.append((kind, got.target, got, ()))
                idents.append([kind, got.id, got.target, getattr(got, "env", ""), got.mode,
                               got.uid, got.gid])
            continue
        if kind not in ("bind", "cache", "tmpfs"):
            raise st.error(f'unsupported mount type "{kind}"', cmd)
        if not target:
            raise st.error("mount destination/target not specified", cmd)
        target = posixpath.join(st.workdir, target)
        readonly = fields.get("ro", fields.get("readonly", "false")) == "true"
        rw = fields.get("rw", fields.get("readwrite", "false")) == "true"
        if kind == "tmpfs":
            size = fields.get("size")
            out.append(("tmpfs", target, "", (f"size={size}",) if size else ()))
            idents.append(["tmpfs", target, size])
        elif kind == "cache":
            cid = fields.get("id") or target
            sharing = fields.get("sharing", "shared")
            src = _cache_mount(b, cid, fields)
            out.append(("cache", target, src, ("ro",) if readonly else ((sharing,) if sharing ==
                                                                          "locked" else ())))
            idents.append(["cache", target, cid, sharing, readonly, fields.get("mode"),
                           fields.get("uid"), fields.get("gid")])
        else:
            tree = b.source_tree(st, fields.get("from", ""), cmd)
            source = fields.get("source") or fields.get("src") or "/"
            try:
                rels = tree.resolve(source)
            except SourceNotFound as e:
                raise st.error(f"failed to compute cache key: {e}", cmd) from None
            rel = rels[0] if rels else ""
            out.append(("bind-rw" if rw else "bind", target, tree.full(rel), ()))
            idents.append(["bind", target, source, rw, tree.checksum([rel])])
    return out, idents


def _cache_mount(b: Builder, cid: str, fields: dict[str, str]) -> str:
    import hashlib

    d = os.path.join(mounts_dir(b.store), hashlib.sha256(cid.encode()).hexdigest()[:32])
    if not os.path.isdir(d):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, int(fields.get("mode", "755"), 8))
        os.chown(d, int(fields.get("uid", "0")), int(fields.get("gid", "0")))
    return d


def _upper_first(text: str) -> str:
    word, sep, rest = text.partition(" ")
    return word.upper() + sep + rest


def _lookup(table: bytes | None, name: str, field: int) -> int | None:
    for line in (table or b"").decode(errors="replace").splitlines():
        cols = line.split(":")
        if len(cols) > field and cols[0] == name:
            try:
                return int(cols[field])
            except ValueError:
                return None
    return None


def _chown(rootfs: str, spec: str, cmd: Command, *, for_user: bool = False) -> tuple[int, int]:
    """``--chown=user:group`` (or USER for WORKDIR) as ids, from the image's own files."""
    user, _, group = spec.partition(":")
    passwd = read_file_in(rootfs, "/etc/passwd")
    if user.isdigit():
        uid = int(user)
        gid = int(user)
        if for_user:
            for line in (passwd or b"").decode(errors="replace").splitlines():
                cols = line.split(":")
                if len(cols) > 3 and cols[2] == user and cols[3].isdigit():
                    gid = int(cols[3])
                    break
    else:
        found = _lookup(passwd, user, 2)
        if found is None:
            raise BuildError(f"unable to convert uid/gid chown string to host mapping: can't "
                             f"find uid for user {user}: no such user: {user}", line=cmd.line,
                             end_line=cmd.inst.end_line)
        uid = found
        primary = _lookup(passwd, user, 3) if for_user else None
        gid = uid if primary is None else primary
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = _lookup(read_file_in(rootfs, "/etc/group"), group, 2)
            if g is None:
                raise BuildError(f"unable to convert uid/gid chown string to host mapping: "
                                 f"can't find gid for group {group}: no such group: {group}",
                                 line=cmd.line, end_line=cmd.inst.end_line)
            gid = g
    return uid, gid

