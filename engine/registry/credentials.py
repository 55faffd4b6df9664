"""Credentials in Docker's client config: ``$DOCKER_CONFIG/config.json``.

The file is shared with the Docker CLI, podman and skopeo, so it is read
and written the way they do: ``auths`` maps a server key to
``{"auth": base64("user:password")}`` (or ``identitytoken``); a
``credHelpers`` entry for the host, or a global ``credsStore``, hands the
secret to ``docker-credential-<name>`` instead.  Docker Hub's key is
``https://index.docker.io/v1/``; other registries are keyed by
``host[:port]``, though older files may hold ``https://host/…`` forms,
which lookups accept.  Every other key in the file is kept as it was; the
file is replaced atomically and stays mode 0600 because it holds secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
from typing import Any

from ..errors import InvalidArgument, InvalidContent
from . import AuthEntry

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def hostname(server: str) -> str:
    """``https://host:5000/v1/`` → ``host:5000``; Docker Hub's names → ``docker.io``."""
    s = server.strip()
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.split("/", 1)[0]
    return "docker.io" if s in _HUB_NAMES else s


def server_key(server: str) -> str:
    host = hostname(server)
    return DOCKER_HUB_KEY if host == "docker.io" else host


class DockerConfig:
    """A :class:`~engine.registry.CredentialStore` over ``config.json``."""

    def __init__(self, directory: str | None = None) -> None:
        self.dir = directory or config_dir()
        self.path = os.path.join(self.dir, "config.json")

    # -- the file ------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        if not data.strip():
            return {}
        try:
            obj = json.loads(data)
        except ValueError as err:
            raise InvalidContent(f"{self.path}: invalid JSON: {err}") from None
        if not isinstance(obj, dict):
            raise InvalidContent(f"{self.path}: expected a JSON object")
        return obj

    def save(self, obj: dict[str, Any]) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".config.json-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(obj, f, indent="\t")
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _helper(self, obj: dict[str, Any], host: str) -> str | None:
        helpers = obj.get("credHelpers")
        if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
            return helpers[host]
        store = obj.get("credsStore")
        return store if isinstance(store, str) and store else None

    def _auths(self, obj: dict[str, Any]) -> dict[str, Any]:
        auths = obj.get("auths")
        if auths is None:
            auths = obj["auths"] = {}
        if not isinstance(auths, dict):
            raise InvalidContent(f"{self.path}: auths: expected an object")
        return auths

    # -- CredentialStore -----------------------------------------------------
    def get(self, registry: str) -> AuthEntry | None:
        obj = self.load()
        host = hostname(registry)
        helper = self._helper(obj, host)
        if helper:
            return _helper_get(helper, server_key(registry))
        auths = self._auths(obj)
        key = server_key(registry)
        entry = auths.get(key)
        if entry is None:  # older files: "https://host/v1/" and friends
            entry = next((v for k, v in auths.items() if hostname(k) == host), None)
        if not isinstance(entry, dict):
            return None
        return self._decode(entry, key)

    def _decode(self, entry: dict[str, Any], key: str) -> AuthEntry | None:
        token = entry.get("identitytoken") or ""
        auth = entry.get("auth") or ""
        user, password = entry.get("username") or "", entry.get("password") or ""
        if auth:
            try:
                user, _, password = base64.b64decode(auth, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidContent(f"{self.path}: auths[{key!r}].auth: invalid "
                                     "base64 user:password") from None
        if not user and not token:
            return None
        return AuthEntry(user, password, token if isinstance(token, str) else "")

    def store(self, registry: str, entry: AuthEntry) -> None:
        obj = self.load()
        key = server_key(registry)
        helper = self._helper(obj, hostname(registry))
        auths = self._auths(obj)
        if helper:
            _helper_call(helper, "store", json.dumps(
                {"ServerURL": key, "Username": entry.username, "Secret": entry.password}))
            auths[key] = {}  # as Docker does: remember *that* we are logged in
        else:
            record: dict[str, str] = {"auth": base64.b64encode(
                f"{entry.username}:{entry.password}".encode()).decode()}
            if entry.identity_token:
                record["identitytoken"] = entry.identity_token
            auths[key] = record
        self.save(obj)

    def erase(self, registry: str) -> bool:
        obj = self.load()
        if not obj:
            return False
        host = hostname(registry)
        key = server_key(registry)
        helper = self._helper(obj, host)
        auths = self._auths(obj)
        keys = [k for k in auths if k == key or hostname(k) == host]
        removed = False
        if helper:
            removed = _helper_call(helper, "erase", key, check=False) == 0
        for k in keys:
            del auths[k]
            removed = True
        if removed:
            self.save(obj)
        return removed


def _helper_call(helper: str, verb: str, stdin: str, *, check: bool = True) -> int:
    prog = f"docker-credential-{helper}"
    try:
        r = subprocess.run([prog, verb], input=stdin.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise InvalidArgument(f"credential helper {prog} is not installed") from None
    if check and r.returncode != 0:
        msg = (r.stdout or r.stderr).decode(errors="replace").strip().splitlines()
        raise InvalidArgument(f"{prog} {verb}: {msg[0] if msg else 'failed'}")
    return r.returncode


def _helper_get(helper: str, key: str) -> AuthEntry | None:
    prog = f"docker-credential-{helper}"
    try:
        r = subprocess.run([prog, "get"], input=key.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise InvalidArgument(f"credential helper {prog} is not installed") from None
    if r.returncode != 0:
        if b"credentials not found" in r.stdout + r.stderr:
            return None
        msg = (r.stdout or r.stderr).decode(errors="replace").strip().splitlines()
        raise InvalidArgument(f"{prog} get: {msg[0] if msg else 'failed'}")
    try:
        obj = json.loads(r.stdout)
        user, secret = obj.get("Username", ""), obj.get("Secret", "")
    except (ValueError, AttributeError):
        raise InvalidContent(f"{prog} get: not valid JSON") from None
    if user == "<token>":  # helpers store identity tokens under this user name
        return AuthEntry("", "", secret)
    return AuthEntry(user, secret) if user or secret else None
