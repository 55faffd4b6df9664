"""COPY and ADD: sources from the context, a stage, an image, a URL or a git repo.

The step's cache key holds everything that decides the layer: the
destination, ``--chown``/``--chmod``, the source names and the content
checksum of the local sources (``context.Tree.checksum``, mtimes
excluded), the digest and mtime of each downloaded file, the commit of each
git source (and its subdir, ``--keep-git-dir``), and heredoc bodies.

Remote sources (ADD only, ``remote``) are fetched before the key is known:
a URL is downloaded every time, as BuildKit does without a pinned cache; a
git ref is only resolved to its commit, and cloned when the step runs.
Their scratch directories are removed when the step is over, whatever
happens; a failed fetch fails the step with one line naming the URL and
the Dockerfile line, before anything is written to the store.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING

from engine.build import Lex
from engine.build.cache import cache_key
from engine.build.context import SourceNotFound, Tree
from engine.build.copy import CopyOptions, add_archive, copy_source, is_archive, write_inline
from engine.build.events import BuildEvent
from engine.build.instructions import Command
from engine.build.layer import Workspace, scratch_dir
from engine.build.remote import (
    GitSource,
    RemoteError,
    fetch_url,
    is_remote,
    parse_git_ref,
    url_tree,
)
from engine.build.stage import StageState
from engine.build.steps import _chown, _upper_first, layer_step
from engine.errors import EngineError
from engine.snapshots.overlay import remove_tree

if TYPE_CHECKING:
    from engine.build.executor import Builder

__all__ = ["copy_step", "dest_path"]


class _Remote:
    """One fetched remote source: a URL's file, or a resolved git ref."""

    def __init__(self, src: str, tree: Tree | None = None, rel: str = "",
                 git: GitSource | None = None, ident: tuple = ()) -> None:
        self.src = src
        self.tree = tree
        self.rel = rel
        self.git = git
        self.ident = ident


def _fetch(b: Builder, st: StageState, cmd: Command, src: str, scratch: ExitStack,
           checksum: str) -> Iterator[BuildEvent | _Remote]:
    """Fetch (URL) or resolve (git) one source under its own progress vertex."""
    d = scratch_dir(b.store, "remote")
    scratch.callback(remove_tree, d)
    git = parse_git_ref(src)
    name = f"[internal] load git source {git.shown}" if git is not None else src
    n = b.progress.start(name)
    yield b.progress.event("start", n)
    try:
        if git is not None:
            source = GitSource(git, d, keep_git_dir=cmd.flag("keep-git-dir") == "true",
                               checksum=checksum, ssh_sock=b.opts.ssh.get("default", ""))
            commit = source.resolve()
            yield b.progress.event("status", n, text=f"resolved {git.ref or 'HEAD'} to {commit}")
            remote = _Remote(src, git=source, ident=("git", git.remote, commit, git.subdir,
                                                      source.keep_git_dir))
        else:
            f = fetch_url(src, d, checksum=checksum, cancel=b.opts.cancel)
            yield b.progress.event("status", n, text=f"{f.digest} {f.size} bytes done")
            remote = _Remote(src, tree=url_tree(d), rel=f.name,
                             ident=("url", src, f.name, f.digest, int(f.mtime)))
    except RemoteError as e:
        raise st.error(str(e), cmd) from None
    yield b.progress.event("done", n)
    yield remote


def copy_step(b: Builder, st: StageState, cmd: Command) -> Iterator[BuildEvent]:
    with ExitStack() as scratch:  # remote sources' directories, removed after the step
        yield from _copy_step(b, st, cmd, scratch)


def _copy_step(b: Builder, st: StageState, cmd: Command,
               scratch: ExitStack) -> Iterator[BuildEvent]:
    is_add = cmd.keyword == "add"
    verb = "ADD" if is_add else "COPY"
    paths, inline, dest_word = cmd.sources_and_dest()
    srcs = [st.expand(p, cmd) for p in paths]
    dest_raw = st.expand(dest_word, cmd)
    chown = st.expand(cmd.flag("chown"), cmd) if cmd.flag("chown") else ""
    chmod_s = st.expand(cmd.flag("chmod"), cmd) if cmd.flag("chmod") else ""
    chmod = None
    if chmod_s:
        try:
            chmod = int(chmod_s, 8)
        except ValueError:
            chmod = -1
        if not 0 <= chmod <= 0o7777:
            raise st.error(f"invalid chmod parameter: '{chmod_s}'. it should be octal string "
                           "and between 0 and 07777", cmd)
    from_ = cmd.flag("from")
    remote_srcs = [s for s in srcs if not from_ and is_remote(s)]
    for s in remote_srcs:
        if not is_add:
            kind = "git ref" if parse_git_ref(s) is not None else "URL"
            raise st.error(f"source can't be a {kind} for COPY", cmd)
    checksum = st.expand(cmd.flag("checksum"), cmd) if cmd.flag("checksum") else ""
    if checksum and not remote_srcs:
        raise st.error("checksum requires HTTP(S) or Git sources", cmd)
    unpack = is_add and cmd.flag("unpack") != "false"
    dest = dest_path(st.workdir, dest_raw)
    title = st.title(_upper_first(st.expand_display(cmd.inst.original)), onbuild=cmd.onbuild)
    local = [s for s in srcs if s not in remote_srcs]
    tree = b.source_tree(st, from_, cmd) if local else None  # heredocs/remote only: none
    resolved: list[tuple[str, list[str]]] = []
    for s in local:
        assert tree is not None
        try:
            resolved.append((s, tree.resolve(s)))
        except SourceNotFound as e:
            ref = b.context_ref if not from_ else from_
            raise st.error(f"failed to compute cache key: failed to calculate checksum of ref "
                           f"{ref}: {e}", cmd) from None
    rels = [r for _, found in resolved for r in found]
    remotes: list[_Remote] = []
    for s in remote_srcs:
        for item in _fetch(b, st, cmd, s, scratch, checksum):
            if isinstance(item, _Remote):
                remotes.append(item)
            else:
                yield item
    docs = []
    for doc in inline:
        data = doc.chomped()
        if doc.expand:
            data = Lex("\\", skip_process_quotes=True).process(data, st.env).result
        docs.append((doc.name, data))
    parts: list[object] = [st.key, verb, unpack, dest, chown, chmod_s,
                           [s for s, _ in resolved], tree.checksum(rels) if tree else "", docs,
                           tree.name if tree else ""]
    if remotes:
        parts += [[r.ident for r in remotes], cmd.flag("unpack")]
    key = cache_key(*parts)
    msg = verb + (f" --chown={chown}" if chown else "") + (f" --chmod={chmod_s}" if chmod_s
                                                           else "")
    msg += "".join(" " + s for s in srcs) + "".join(f" <<{n}" for n, _ in docs) + " " + dest_raw

    def execute(ws: Workspace, n: int) -> Iterator[BuildEvent]:
        ids = _chown(ws.rootfs, chown, cmd) if chown else None
        opts = CopyOptions(chown=ids, chmod=chmod, label=verb)
        try:
            if tree is not None:
                for rel in rels:
                    _copy_one(ws, tree, rel, dest, opts, unpack)
            for r in remotes:
                if r.git is not None:
                    yield b.progress.event("status", n, text=f"checking out {r.src}")
                    _copy_one(ws, r.git.checkout(), "", dest, opts, False)
                else:
                    assert r.tree is not None  # a URL's file is not unpacked unless asked
                    _copy_one(ws, r.tree, r.rel, dest, opts, cmd.flag("unpack") == "true")
            for name, data in docs:
                write_inline(ws.rootfs, name, data.encode(), dest, opts)
        except EngineError as e:
            raise st.error(str(e), cmd) from None
        except OSError as e:
            raise st.error(f"{verb} failed: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
                           cmd) from None

    yield from layer_step(b, st, cmd, title, key, msg, execute)


def _copy_one(ws: Workspace, tree: Tree, rel: str, dest: str, opts: CopyOptions,
              unpack: bool) -> None:
    full = tree.full(rel)
    if unpack and os.path.isfile(full) and not os.path.islink(full) and is_archive(full):
        add_archive(ws.rootfs, full, dest, opts)
    else:
        copy_source(ws.rootfs, tree, rel, dest, opts)


def dest_path(workdir: str, dest: str) -> str:
    """``pathRelativeToWorkingDir``: absolute, cleaned, trailing slash kept."""
    slash = dest.endswith("/") or dest in ("", ".")
    path = posixpath.normpath(posixpath.join(workdir, dest or "."))
    path = "/" + path.lstrip("/")
    return path.rstrip("/") + "/" if slash else path
