"""A tiny OCI registry on 127.0.0.1 for the cases a real one will not produce.

It serves what the tests put in it, and can lie: flip a byte of a blob
(``corrupt``), drop the connection half way through one (``drop``), ignore
``Range`` requests, send more bytes than the descriptor says, answer with
an error JSON of our choosing, or demand bearer tokens from its own token
endpoint (``/token``, basic auth, scopes checked on every request).  Every
request is logged so tests can assert on the protocol itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.imagegen import layer_tar

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    manifest: bytes
    config: bytes
    layers: list[bytes]  # compressed blobs

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def id(self) -> str:
        return digest_of(self.config)


def make_image(n_layers: int = 3, *, arch: str = "amd64", size: int = 40_000,
               seed: int = 0) -> Image:
    """A real image: gzip layers of pseudo-random files, a config, a manifest."""
    import random

    rng = random.Random(seed)
    raws = [layer_tar([(f"l{i}/f{j}", rng.randbytes(size // 4)) for j in range(4)])
            for i in range(n_layers)]
    blobs = [gzip.compress(r, compresslevel=1, mtime=0) for r in raws]
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(r) for r in raws]},
        "history": [{"created_by": f"layer {i}"} for i in range(n_layers)],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(b), "size": len(b)} for b in blobs],
    }).encode()
    return Image(manifest, config, blobs)


@dataclass
class FakeRegistry:
    users: dict[str, str] = field(default_factory=dict)  # token auth when non-empty
    anonymous_pull: bool = False  # token server gives pull tokens without a password
    blobs: dict[str, bytes] = field(default_factory=dict)
    repo_blobs: dict[str, set[str]] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    uploads: dict[str, tuple[str, bytearray]] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    drop: dict[str, int] = field(default_factory=dict)  # digest → times to drop mid-body
    ignore_range: bool = False
    oversize: set[str] = field(default_factory=set)
    # path → (status, error code, message) answered instead of the content
    errors: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    tokens: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    # -- content ---------------------------------------------------------------
    def add_blob(self, repo: str, data: bytes) -> str:
        d = digest_of(data)
        self.blobs[d] = data
        self.repo_blobs.setdefault(repo, set()).add(d)
        return d

    def add_image(self, repo: str, tag: str | None, img: Image) -> str:
        for b in (img.config, *img.layers):
            self.add_blob(repo, b)
        self.manifests[(repo, img.digest)] = (img.manifest, OCI_MANIFEST)
        if tag:
            self.manifests[(repo, tag)] = (img.manifest, OCI_MANIFEST)
        return img.digest

    def add_index(self, repo: str, tag: str, entries: list[tuple[Image, str]]) -> str:
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": img.digest, "size": len(img.manifest),
             "platform": {"os": "linux", "architecture": arch}} for img, arch in entries]}).encode()
        for img, _ in entries:
            self.add_image(repo, None, img)
        self.manifests[(repo, tag)] = (index, OCI_INDEX)
        self.manifests[(repo, digest_of(index))] = (index, OCI_INDEX)
        return digest_of(index)

    # -- server ----------------------------------------------------------------
    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"reg": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        return self.host

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests(self, method: str, pattern: str = "") -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.log if r[0] == method and re.search(pattern, r[1])]


_SCOPE = re.compile(r"repository:([^:]+):([a-z,*]+)")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    reg: FakeRegistry

    def log_message(self, *args: object) -> None:  # quiet
        pass

    # -- helpers ---------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              *, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, headers=None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
        self._send(status, body.encode(), {"Content-Type": "application/json", **(headers or {})})

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _authorized(self, repo: str, action: str, extra: tuple[str, str] | None = None) -> bool:
        reg = self.reg
        if not reg.users and not reg.anonymous_pull:
            return True
        auth = self.headers.get("Authorization", "")
        granted = reg.tokens.get(auth.removeprefix("Bearer "), set()) \
            if auth.startswith("Bearer ") else set()
        if (repo, action) in granted:
            return True
        scope = f"repository:{repo}:{'pull,push' if action == 'push' else 'pull'}"
        realm = f"http://{reg.host}/token"
        self._error(401, "UNAUTHORIZED", "authentication required", {
            "WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="{scope}"'})
        return False

    # -- token server -------------------------------------------------------------
    def _token(self, query: dict[str, list[str]]) -> None:
        reg = self.reg
        reg.token_requests.append(query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if reg.users.get(u) != p:
                self._send(401, json.dumps({"details": "incorrect username or password"})
                           .encode(), {"Content-Type": "application/json"})
                return
            user = u
        granted: set[tuple[str, str]] = set()
        for scope in query.get("scope", []):
            for m in _SCOPE.finditer(scope):
                for action in m.group(2).split(","):
                    if user is not None or (reg.anonymous_pull and action == "pull"):
                        granted.add((m.group(1), action))
        token = secrets.token_hex(8)
        reg.tokens[token] = granted
        self._send(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

    # -- verbs -------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        reg = self.reg
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        reg.log.append((method, self.path, dict(self.headers.items())))
        path = url.path
        if path in reg.errors:
            status, code, msg = reg.errors[path]
            self._error(status, code, msg)
            return
        if path == "/token":
            self._token(query)
            return
        if path == "/v2/":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if (reg.users or reg.anonymous_pull) and token not in reg.tokens:
                realm = f"http://{reg.host}/token"
                self._error(401, "UNAUTHORIZED", "authentication required",
                            {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'})
            else:
                self._send(200, b"{}")
            return
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs|tags)/(.*)", path)
        if not m:
            self._error(404, "NOT_FOUND", "no route")
            return
        repo, kind, rest = m.groups()
        write = method in ("POST", "PUT", "PATCH")
        if not self._authorized(repo, "push" if write else "pull"):
            self._body()
            return
        if kind == "tags":
            tags = sorted(t for (r, t) in reg.manifests if r == repo and ":" not in t)
            self._send(200, json.dumps({"name": repo, "tags": tags}).encode())
        elif kind == "manifests":
            self._manifest(method, repo, rest)
        elif rest.startswith("uploads/"):
            self._upload(method, repo, rest.removeprefix("uploads/"), query)
        else:
            self._blob(method, repo, rest)

    def _manifest(self, method: str, repo: str, ref: str) -> None:
        reg = self.reg
        if method == "PUT":
            data = self._body()
            media = self.headers.get("Content-Type", "")
            reg.manifests[(repo, ref)] = (data, media)
            reg.manifests[(repo, digest_of(data))] = (data, media)
            self._send(201, headers={"Docker-Content-Digest": digest_of(data)})
            return
        found = reg.manifests.get((repo, ref))
        if found is None:
            self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return
        data, media = found
        self._send(200, data, {"Content-Type": media, "Docker-Content-Digest": digest_of(data)},
                   head=method == "HEAD")

    def _blob(self, method: str, repo: str, digest: str) -> None:
        reg = self.reg
        if digest not in reg.repo_blobs.get(repo, set()):
            self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return
        data = reg.blobs[digest]
        if digest in reg.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if digest in reg.oversize:
            data = data + b"\0" * 4096
        if method == "HEAD":
            self._send(200, data, head=True)
            return
        start = 0
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if rng and not reg.ignore_range:
            start = int(rng.group(1))
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reg.drop.get(digest, 0) > 0:
            reg.drop[digest] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _upload(self, method: str, repo: str, upload_id: str, query) -> None:
        reg = self.reg
        if method == "POST":
            self._body()
            mount, source = query.get("mount", [None])[0], query.get("from", [None])[0]
            if mount and source and mount in reg.repo_blobs.get(source, set()):
                reg.repo_blobs.setdefault(repo, set()).add(mount)
                self._send(201, headers={"Location": f"/v2/{repo}/blobs/{mount}"})
                return
            uid = uuid.uuid4().hex
            reg.uploads[uid] = (repo, bytearray())
            self._send(202, headers={"Location": f"/v2/{repo}/blobs/uploads/{uid}",
                                     "Range": "0-0"})
            return
        if upload_id not in reg.uploads:
            self._error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            return
        _, buf = reg.uploads[upload_id]
        if method == "PATCH":
            data = self._body()
            crange = self.headers.get("Content-Range", "")
            if crange and int(crange.split("-")[0]) != len(buf):
                self._error(416, "BLOB_UPLOAD_INVALID", "bad range")
                return
            buf += data
            self._send(202, headers={"Location": f"/v2/{repo}/blobs/uploads/{upload_id}",
                                     "Range": f"0-{len(buf) - 1}"})
        elif method == "PUT":
            buf += self._body()
            want = query.get("digest", [""])[0]
            if digest_of(bytes(buf)) != want:
                self._error(400, "DIGEST_INVALID", "provided digest did not match uploaded "
                            "content")
                return
            del reg.uploads[upload_id]
            self.reg.add_blob(repo, bytes(buf))
            self._send(201, headers={"Location": f"/v2/{repo}/blobs/{want}",
                                     "Docker-Content-Digest": want})
        else:  # GET: upload status
            self._send(204, headers={"Location": f"/v2/{repo}/blobs/uploads/{upload_id}",
                                     "Range": f"0-{max(len(buf) - 1, 0)}"})
