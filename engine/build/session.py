"""Secrets and SSH agents a RUN may borrow: BuildKit's session attachables.

``dockyard build --secret id=x,src=path`` (or ``env=VAR``) and ``--ssh
default[=socket]`` hand the build named secrets and agent sockets
(``BuildOptions.secrets`` / ``.ssh``).  A step asks for them with
``RUN --mount=type=secret,id=x[,target=…,env=…,required,mode,uid,gid]`` and
``RUN --mount=type=ssh[,id=default,target=…,required,mode,uid,gid]``.

Lifecycle for one RUN (``Attached``, opened by ``run.run_step``):

1. a private directory in ``/dev/shm`` (memory: a secret never touches the
   disk, and its path is short enough for a unix socket);
2. each secret written there with its mode and owner (default 0400, root)
   and bind-mounted read-only at its target (default ``/run/secrets/<id>``),
   or put in the process environment (``env=``); each agent gets a proxy
   socket there (default 0600, root) that forwards every connection to the
   real agent, bind-mounted at ``/run/buildkit/ssh_agent.<n>``, and the
   first sets ``SSH_AUTH_SOCK``;
3. after the step: proxies stopped, the directory removed.  The mount
   points runc created are removed from the layer with the other stubs, so
   nothing of a secret reaches a layer, and a cache key holds only its id.

A missing secret or agent is skipped unless ``required=true``, which fails
the step naming the line, as BuildKit does.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import stat
import tempfile
import threading
from dataclasses import dataclass, field

from engine.errors import InvalidArgument
from engine.runtime.spec import Mount

__all__ = ["AgentProxy", "Attached", "SecretFile", "SshSocket", "parse_secret_flag",
           "parse_ssh_flag", "secret_mount", "ssh_mount"]


@dataclass(frozen=True)
class SecretFile:
    id: str
    data: bytes
    target: str = ""  # "" with env: not mounted as a file
    env: str = ""
    mode: int = 0o400
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class SshSocket:
    id: str
    agent: str  # the host's agent socket
    target: str
    mode: int = 0o600
    uid: int = 0
    gid: int = 0


# -- the command line ------------------------------------------------------------

def _fields(value: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        k, eq, v = part.partition("=")
        if not k or not eq:
            raise InvalidArgument(f"invalid {what} {value!r}: expected key=value pairs")
        out[k.strip().lower()] = v
    return out


def parse_secret_flag(value: str) -> tuple[str, bytes]:
    """``--secret id=x[,type=file|env][,src=path|,env=VAR]`` → (id, content), as buildx."""
    f = _fields(value, "secret")
    sid = f.get("id", "")
    if not sid:
        raise InvalidArgument(f"invalid secret {value!r}: id is required")
    kind = f.get("type", "")
    if kind not in ("", "file", "env"):
        raise InvalidArgument(f"unsupported secret type {kind!r}")
    src = f.get("src") or f.get("source") or ""
    env = f.get("env", "")
    if kind == "env" and not env:
        env, src = src or sid, ""
    if not src and not env:  # buildx: the variable named like the id, else the file
        if sid in os.environ and kind != "file":
            env = sid
        else:
            src = sid
    if env and not src:
        if env not in os.environ:
            raise InvalidArgument(f"secret {sid}: environment variable {env} is not set")
        return sid, os.environb[os.fsencode(env)]
    try:
        with open(os.path.expanduser(src), "rb") as fh:
            return sid, fh.read()
    except OSError as e:
        raise InvalidArgument(f"failed to read secret {sid}: open {src}: "
                              f"{(e.strerror or str(e)).lower()}") from None


def parse_ssh_flag(value: str) -> tuple[str, str]:
    """``--ssh default|<id>[=<socket>]`` → (id, agent socket path)."""
    sid, eq, path = value.partition("=")
    if not sid or (eq and not path):
        raise InvalidArgument(f"invalid ssh {value!r}: expected <id>[=<socket>]")
    if not path:
        path = os.environ.get("SSH_AUTH_SOCK", "")
        if not path:
            raise InvalidArgument("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK "
                                  "is set")
    try:
        is_sock = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError as e:
        raise InvalidArgument(f"ssh {sid}: {path}: {(e.strerror or str(e)).lower()}") from None
    if not is_sock:
        raise InvalidArgument(f"ssh {sid}: {path} is not an agent socket (key files are not "
                              "supported: add the key to an ssh-agent)")
    return sid, os.path.abspath(path)


# -- the agent proxy ---------------------------------------------------------------

class AgentProxy:
    """A unix socket that forwards each connection to ``agent`` (a thread per client)."""

    def __init__(self, agent: str, path: str, *, mode: int, uid: int, gid: int) -> None:
        self.agent = agent
        self.path = path
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, name="ssh-proxy", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(conn,), daemon=True).start()

    def _pipe(self, conn: socket.socket) -> None:
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sel = selectors.DefaultSelector()
        try:
            conn.setblocking(True)
            up.connect(self.agent)
            sel.register(conn, selectors.EVENT_READ, up)
            sel.register(up, selectors.EVENT_READ, conn)
            while not self.stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            up.close()
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=2)


# -- one RUN's attachments --------------------------------------------------------------

@dataclass
class Attached:
    """Secrets and agent sockets of one RUN, live while the container runs."""

    secrets: list[SecretFile]
    sockets: list[SshSocket]
    mounts: list[Mount] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    dir: str = ""
    proxies: list[AgentProxy] = field(default_factory=list)

    def open(self) -> Attached:
        if not (self.secrets or self.sockets):
            return self
        # memory-backed and short (a unix socket path must fit 108 bytes)
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="dockyard-build-", dir=base)
        try:
            for i, s in enumerate(self.secrets):
                if s.env:
                    self.env.append(f"{s.env}={s.data.decode('utf-8', 'surrogateescape')}")
                if not s.target:
                    continue
                path = os.path.join(self.dir, f"secret{i}")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                with open(fd, "wb") as f:
                    f.write(s.data)
                os.chown(path, s.uid, s.gid)
                os.chmod(path, s.mode)
                self.mounts.append(Mount(s.target, "bind", path,
                                         ("rbind", "rprivate", "ro", "nosuid", "nodev",
                                          "noexec")))
            for i, a in enumerate(self.sockets):
                path = os.path.join(self.dir, f"ssh{i}")
                self.proxies.append(AgentProxy(a.agent, path, mode=a.mode, uid=a.uid,
                                               gid=a.gid))
                self.mounts.append(Mount(a.target, "bind", path, ("rbind", "rprivate")))
            if self.sockets:
                self.env.append(f"SSH_AUTH_SOCK={self.sockets[0].target}")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for p in self.proxies:
            p.close()
        self.proxies.clear()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""


# -- the --mount flags -----------------------------------------------------------------

def _int(fields: dict[str, str], key: str, default: int, base: int = 10) -> int:
    value = fields.get(key, "")
    if not value:
        return default
    try:
        return int(value, base)
    except ValueError:
        raise InvalidArgument(f"invalid {key} {value!r} in mount") from None


def _target(fields: dict[str, str], workdir: str, default: str) -> str:
    import posixpath

    target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
    if not target:
        return default
    target = posixpath.normpath(posixpath.join(workdir, target))
    if target == "/":
        raise InvalidArgument(f'invalid mount target "{target}"')
    return target


def secret_mount(fields: dict[str, str], secrets: dict[str, bytes],
                 workdir: str) -> SecretFile | None:
    """``--mount=type=secret,…``: the secret to attach, None if absent and optional."""
    import posixpath

    if fields.get("from"):
        raise InvalidArgument("secret mount should not have a from")
    sid = fields.get("id", "")
    src = fields.get("source") or fields.get("src") or ""
    if sid and src:
        raise InvalidArgument("both source and id can't be set")
    target = _target(fields, workdir, "")
    env = fields.get("env", "")
    sid = sid or src or (posixpath.basename(target) if target else "")
    if not sid:
        raise InvalidArgument("one of source, target required")
    if not target and not env:
        target = "/run/secrets/" + sid
    if sid not in secrets:
        if fields.get("required", "false") == "true":
            raise InvalidArgument(f"secret {sid}: not found")
        return None
    return SecretFile(sid, secrets[sid], target, env, _int(fields, "mode", 0o400, 8),
                      _int(fields, "uid", 0), _int(fields, "gid", 0))


def ssh_mount(fields: dict[str, str], agents: dict[str, str], workdir: str,
              index: int) -> SshSocket | None:
    """``--mount=type=ssh,…``: the agent to forward, None if absent and optional."""
    if fields.get("from"):
        raise InvalidArgument("ssh mount should not have a from")
    sid = fields.get("id") or "default"
    target = _target(fields, workdir, f"/run/buildkit/ssh_agent.{index}")
    if sid not in agents:
        if fields.get("required", "false") == "true":
            raise InvalidArgument(f'no SSH key "{sid}" forwarded from the client')
        return None
    return SshSocket(sid, agents[sid], target, _int(fields, "mode", 0o600, 8),
                     _int(fields, "uid", 0), _int(fields, "gid", 0))
