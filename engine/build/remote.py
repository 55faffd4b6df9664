"""ADD's remote sources: a file over HTTP(S), or a git repository.

Which source is which follows BuildKit's ``gitutil.ParseGitRef``: a
``git://`` or ``ssh://`` URL, an scp-style ``user@host:path``, or an
``http(s)://`` URL whose path ends in ``.git`` is a git repository;
``#ref:subdir`` picks the ref (branch, tag or commit; the remote's HEAD
when empty) and a directory in it.  Any other ``http(s)://`` URL is a file.

Lifecycle of one remote source (``fetch``), before the ADD's cache key is
computed, each in a scratch directory under ``tmp/`` that the caller
removes when the step is over:

- a URL is downloaded (redirects followed) and hashed while it streams; the
  file is named after the URL's last path component (``__unnamed__`` when
  there is none), mode 0600, mtime from ``Last-Modified``; ``--checksum``
  must match.  Its cache identity is the content digest and the mtime.
- a git ref is resolved to a commit with ``git ls-remote`` (a full commit
  hash needs no lookup); its cache identity is the commit, so a cached ADD
  clones nothing.  ``checkout`` clones (shallow when the ref is a name,
  full when that fails or the ref is a commit), checks the commit out with
  its submodules, and gives the tree to copy: the subdirectory, without
  ``.git`` unless ``--keep-git-dir``.

Errors are ``RemoteError``s, one line naming the URL.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import posixpath
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from engine.build.context import HashCache, Tree
from engine.errors import Cancelled, EngineError
from engine.runtime.rootpath import secure_join

__all__ = ["GitRef", "GitSource", "RemoteError", "UrlFile", "fetch_url", "is_remote",
           "parse_git_ref"]

_PROTO = re.compile(r"^([a-zA-Z0-9]+)://")
_SCP = re.compile(r"^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:#(.*))?$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_GIT = "/usr/bin/git" if os.path.exists("/usr/bin/git") else "git"


class RemoteError(EngineError):
    """A URL or git source that could not be fetched, or failed its checksum."""


@dataclass(frozen=True)
class GitRef:
    remote: str  # what git clones: the URL without its fragment
    ref: str  # branch, tag or commit; "" for the remote's HEAD
    subdir: str  # "" for the whole tree

    @property
    def shown(self) -> str:
        frag = self.ref + (":" + self.subdir if self.subdir else "")
        return self.remote + ("#" + frag if frag else "")


def parse_git_ref(src: str) -> GitRef | None:
    """BuildKit's ``ParseGitRef``: the repository a source names, or None (not git)."""
    m = _PROTO.match(src)
    if m is not None:
        proto = m.group(1).lower()
        if proto not in ("http", "https", "git", "ssh"):
            return None
        remote, _, fragment = src.partition("#")
        if proto in ("http", "https") and not urlsplit(remote).path.endswith(".git"):
            return None
    else:
        scp = _SCP.match(src)
        if scp is None:
            return None
        remote, fragment = src.split("#", 1)[0], scp.group(4) or ""
    ref, _, subdir = fragment.partition(":")
    return GitRef(remote, ref, subdir.strip("/"))


def is_remote(src: str) -> bool:
    return src.startswith(("http://", "https://")) or parse_git_ref(src) is not None


# -- HTTP(S) -------------------------------------------------------------------------

@dataclass(frozen=True)
class UrlFile:
    name: str  # the file's name in ``dir``
    digest: str  # sha256:… of the content
    size: int
    mtime: float  # from Last-Modified, else the download time


def url_filename(url: str) -> str:
    """dockerfile2llb's name for a downloaded file: the URL path's last component."""
    base = posixpath.basename(unquote(urlsplit(url).path).rstrip("/"))
    return base if base not in ("", ".", "..") else "__unnamed__"


def fetch_url(url: str, directory: str, *, checksum: str = "",
              cancel: threading.Event | None = None) -> UrlFile:
    """Download ``url`` into ``directory``; RemoteError on any failure."""
    import httpx

    if checksum and not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        raise RemoteError(f"invalid checksum digest format: {checksum}")
    name = url_filename(url)
    path = os.path.join(directory, name)
    h = hashlib.sha256()
    size = 0
    try:
        with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=300.0),
                          headers={"User-Agent": "dockyard-builder"}) as client, \
                client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise RemoteError(f"failed to load {url}: invalid response status "
                                  f"{resp.status_code} {resp.reason_phrase}".rstrip())
            modified = resp.headers.get("last-modified")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with open(fd, "wb") as f:
                for chunk in resp.iter_bytes(1 << 20):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("build cancelled")
                    f.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
    except httpx.HTTPError as e:
        raise RemoteError(f"failed to load {url}: {e or type(e).__name__}") from None
    except OSError as e:
        raise RemoteError(f"failed to load {url}: {e.strerror or e}") from None
    digest = "sha256:" + h.hexdigest()
    if checksum and checksum != digest:
        raise RemoteError(f"failed to load {url}: digest mismatch: expected {checksum}, "
                          f"got {digest}")
    mtime = time.time()
    if modified:
        try:
            mtime = email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            pass
    os.chmod(path, 0o600)
    os.utime(path, (mtime, mtime))
    return UrlFile(name, digest, size, mtime)


def url_tree(directory: str) -> Tree:
    return Tree(directory, owners=False, name="url")


# -- git ---------------------------------------------------------------------------------

class GitSource:
    """One ``ADD <git ref>``: resolve (cheap), then checkout (on a cache miss)."""

    def __init__(self, ref: GitRef, directory: str, *, keep_git_dir: bool = False,
                 checksum: str = "", ssh_sock: str = "") -> None:
        self.ref = ref
        self.dir = directory
        self.keep_git_dir = keep_git_dir
        self.checksum = checksum
        self.env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C",
                        GIT_ASKPASS="/bin/true")
        if ssh_sock:
            self.env["SSH_AUTH_SOCK"] = ssh_sock
        self.commit = ""
        self.cloned = False

    def _git(self, *args: str, cwd: str | None = None) -> str:
        try:
            r = subprocess.run([_GIT, *args], cwd=cwd, env=self.env, capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RemoteError(f"failed to load git source {self.ref.shown}: {e}") from None
        if r.returncode != 0:
            lines = [ln.strip() for ln in r.stderr.decode(errors="replace").splitlines()
                     if ln.strip() and not ln.startswith("hint:")]
            why = lines[-1] if lines else f"git {args[0]} exited with {r.returncode}"
            raise RemoteError(f"failed to load git source {self.ref.shown}: {why}")
        return r.stdout.decode(errors="replace")

    @property
    def repo(self) -> str:
        return os.path.join(self.dir, "repo")

    def resolve(self) -> str:
        """The commit the ref names (cloning only for an abbreviated commit)."""
        ref = self.ref.ref
        if _SHA.match(ref):
            self.commit = ref
        else:
            want = ref or "HEAD"
            out = self._git("ls-remote", "--", self.ref.remote, want, f"{want}^{{}}")
            refs: dict[str, str] = {}
            for line in out.splitlines():
                sha, _, name = line.partition("\t")
                refs[name] = sha
            for name in (want, f"refs/tags/{want}^{{}}", f"refs/tags/{want}",
                         f"refs/heads/{want}"):
                if name in refs:
                    self.commit = refs[name]
                    break
            else:
                if not re.fullmatch(r"[0-9a-f]{7,64}", ref):
                    raise RemoteError(f"failed to load git source {self.ref.shown}: "
                                      f"repository has no ref {want!r}")
                self._clone(shallow=False)
                self.commit = self._git("rev-parse", "--verify", f"{ref}^{{commit}}",
                                        cwd=self.repo).strip()
        if self.checksum and not (len(self.checksum) >= 7 and
                                  self.commit.startswith(self.checksum)):
            raise RemoteError(f"failed to load git source {self.ref.shown}: expected checksum "
                              f"to match {self.checksum}, got {self.commit}")
        return self.commit

    def _clone(self, *, shallow: bool) -> None:
        if self.cloned:
            return
        args = ["clone", "--quiet", "--no-checkout"]
        if shallow:
            args += ["--depth", "1"] + (["--branch", self.ref.ref] if self.ref.ref else [])
        self._git(*args, "--", self.ref.remote, self.repo)
        self.cloned = True

    def checkout(self) -> Tree:
        """Clone and check out the resolved commit; the tree ADD copies."""
        if not self.commit:
            self.resolve()
        if not self.cloned and not _SHA.match(self.ref.ref):
            try:
                self._clone(shallow=True)
                head = self._git("rev-parse", "HEAD", cwd=self.repo).strip()
                if head != self.commit:
                    raise RemoteError("moved")
            except RemoteError:  # a dumb server, or the ref moved: fetch it all
                from engine.snapshots.overlay import remove_tree

                remove_tree(self.repo)
                self.cloned = False
        self._clone(shallow=False)
        self._git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach",
                  self.commit, cwd=self.repo)
        if os.path.exists(os.path.join(self.repo, ".gitmodules")):
            self._git("submodule", "update", "--init", "--recursive", "--quiet",
                      cwd=self.repo)
        root = self.repo
        if self.ref.subdir:
            root = secure_join(self.repo, self.ref.subdir)
            if not os.path.isdir(root):
                raise RemoteError(f"failed to load git source {self.ref.shown}: subdir "
                                  f"{self.ref.subdir!r} not found in {self.commit[:12]}")
        return Tree.context(root, [] if self.keep_git_dir else [".git"], HashCache(None))
