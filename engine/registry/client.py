"""One registry host: its endpoint, its auth state, and the requests of the API.

Lifecycle: ``Registry(domain, …)`` opens a connection pool; the first
request pings ``GET /v2/`` to learn whether (and how) the registry wants
credentials; every request then carries the ``Authorization`` its scopes
need and, if it is answered 401 with a new challenge, is sent once more.
``close()`` (or ``with``) ends the pool.

Scheme: loopback registries (``localhost``, ``127.0.0.0/8``, ``::1``) are
spoken to over plain HTTP, as Docker's default insecure-registry list
allows; ``tls_verify=False`` skips certificate checks and, as podman's
``--tls-verify=false`` does, falls back to plain HTTP when the host speaks
no TLS at all.  Everything else is HTTPS with verified certificates.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from ..images import manifest as mf
from ..images.digest import sha256_digest
from . import AuthEntry, CredentialStore, RegistryError
from .auth import Authorizer, _one_line

USER_AGENT = "dockyard/0.1 (+OCI distribution)"
API_HOSTS = {"docker.io": "registry-1.docker.io"}
MANIFEST_ACCEPT = ", ".join([mf.OCI_INDEX, mf.DOCKER_MANIFEST_LIST, mf.OCI_MANIFEST,
                             mf.DOCKER_MANIFEST])
MAX_MANIFEST = 4 << 20  # the distribution spec's limit; more is hostile
MAX_CONFIG = 16 << 20
MAX_ERROR_BODY = 64 << 10
RETRIES = 3  # for idempotent requests that failed on the network


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def is_loopback(host: str) -> bool:
    """``host[:port]`` names this machine (so plain HTTP is acceptable)."""
    if host.startswith("["):
        name = host[1:host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def error_text(resp: httpx.Response) -> tuple[str, str]:
    """(one-line message, first error code) from a registry's error response.

    The distribution spec's body is ``{"errors": [{"code", "message",
    "detail"}]}``; like Docker's ``errcode.Error`` each becomes
    ``"<code in lowercase words>: <message>"``.
    """
    body = b""
    try:
        if resp.is_stream_consumed or resp.is_closed:
            body = resp.content if hasattr(resp, "_content") else b""
        else:
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_ERROR_BODY:
                    break
    except (httpx.HTTPError, httpx.StreamError):
        pass
    finally:
        resp.close()
    parts, code = [], ""
    try:
        obj: Any = json.loads(body[:MAX_ERROR_BODY])
    except ValueError:
        obj = None
    errors = obj.get("errors") if isinstance(obj, dict) else None
    if isinstance(errors, list):
        for e in errors:
            if not isinstance(e, dict):
                continue
            c = str(e.get("code", "") or "UNKNOWN")
            code = code or c
            words = c.replace("_", " ").lower()
            message = e.get("message") or words
            parts.append(f"{words}: {message}")
    if parts:
        return " ".join("; ".join(parts).split()), code
    status = resp.status_code
    if status == 401:
        return "unauthorized: authentication required", "UNAUTHORIZED"
    if status == 403:
        return "denied: requested access to the resource is denied", "DENIED"
    return f"unexpected status from the registry: {status} {resp.reason_phrase}", ""


def fail(resp: httpx.Response, context: str = "") -> RegistryError:
    message, code = error_text(resp)
    return RegistryError(f"{context}: {message}" if context else message, code=code,
                         status=resp.status_code)


class Registry:
    def __init__(self, domain: str, *, credentials: CredentialStore | None = None,
                 entry: AuthEntry | None = None, tls_verify: bool = True,
                 timeout: float = 60.0) -> None:
        self.domain = domain
        self.host = API_HOSTS.get(domain, domain)
        self.scheme = "http" if is_loopback(self.host) else "https"
        self.tls_verify = tls_verify
        if entry is None and credentials is not None:
            entry = credentials.get(domain)
        self.http = httpx.Client(
            verify=tls_verify, follow_redirects=True, headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=15.0),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))
        self.auth = Authorizer(self.http, entry)
        self._pinged = False

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    # -- ping ----------------------------------------------------------------
    def ping(self) -> httpx.Response:
        """``GET /v2/``: learn the challenge; fall back to HTTP when allowed."""
        self._pinged = True
        try:
            resp = self._send_raw("GET", self.url("/v2/"))
        except RegistryError:
            if self.scheme != "https" or self.tls_verify:
                raise
            self.scheme = "http"
            resp = self._send_raw("GET", self.url("/v2/"))
        if resp.status_code == 401:
            self.auth.learn(resp)
        elif resp.status_code != 200:
            raise RegistryError(f'Get "{self.url("/v2/")}": {self.host} answered '
                                f"{resp.status_code} {resp.reason_phrase}: not an OCI "
                                "distribution registry", status=resp.status_code)
        return resp

    def _send_raw(self, method: str, url: str, **kw: Any) -> httpx.Response:
        for attempt in range(RETRIES + 1):
            try:
                return self.http.request(method, url, **kw)
            except httpx.HTTPError as err:
                # refused connections and TLS failures will not heal in a second
                if attempt == RETRIES or isinstance(err, httpx.ConnectError):
                    raise network_error(method, url, err) from None
                time.sleep(0.2 * 2 ** attempt)
        raise AssertionError("unreachable")

    # -- requests ------------------------------------------------------------
    def request(self, method: str, path: str, *, scopes: Sequence[str],
                headers: dict[str, str] | None = None, content: Any = None,
                params: Any = None, stream: bool = False) -> httpx.Response:
        """Send one authorized request; a 401 with a new challenge is retried
        once when the body can be sent again (None or bytes)."""
        if not self._pinged:
            self.ping()
        url = self.url(path)
        replayable = content is None or isinstance(content, bytes)
        idempotent = method in ("GET", "HEAD") and replayable
        for attempt in range(RETRIES + 1):
            h = dict(headers or {})
            # credentials go to the registry only, never to a host an upload
            # Location or a redirect points at
            authz = self.auth.header(scopes) if httpx.URL(url).netloc.decode() == \
                self.host else None
            if authz:
                h["Authorization"] = authz
            req = self.http.build_request(method, url, headers=h, content=content, params=params)
            try:
                resp = self.http.send(req, stream=stream)
            except httpx.HTTPError as err:
                if not idempotent or attempt == RETRIES:
                    raise network_error(method, url, err) from None
                time.sleep(0.2 * 2 ** attempt)
                continue
            if resp.status_code == 401 and replayable and attempt == 0:
                if self.auth.learn(resp):
                    resp.close()
                    continue
            return resp
        raise AssertionError("unreachable")

    # -- manifests -----------------------------------------------------------
    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index, digest verified."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}",
                            scopes=[pull_scope(repo)], headers={"Accept": MANIFEST_ACCEPT},
                            stream=True)
        if resp.status_code != 200:
            raise fail(resp)
        data = read_limited(resp, MAX_MANIFEST, f"manifest {reference}")
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest {reference}: the registry sent content with "
                                f"digest {digest}", code="DIGEST_INVALID")
        header = resp.headers.get("Docker-Content-Digest", "")
        if header.startswith("sha256:") and header != digest:
            raise RegistryError(f"manifest {reference}: content digest {digest} does not "
                                f"match the Docker-Content-Digest {header}",
                                code="DIGEST_INVALID")
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return data, media, digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                            scopes=[push_scope(repo)], content=data,
                            headers={"Content-Type": media_type})
        if resp.status_code not in (200, 201, 202):
            raise fail(resp)
        digest = sha256_digest(data)
        header = resp.headers.get("Docker-Content-Digest", "")
        if header.startswith("sha256:") and header != digest:
            raise RegistryError(f"manifest {reference}: the registry stored it as {header}, "
                                f"expected {digest}", code="DIGEST_INVALID")
        return digest

    def list_tags(self, repo: str) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        for _ in range(10_000):  # bounded: a hostile registry could page forever
            if path is None:
                break
            resp = self.request("GET", path, scopes=[pull_scope(repo)], stream=True)
            if resp.status_code != 200:
                raise fail(resp)
            try:
                body = json.loads(read_limited(resp, MAX_MANIFEST, "tag list"))
                page = body.get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{repo}: the registry sent an invalid tag list") from None
            tags.extend(t for t in page if isinstance(t, str))
            path = _next_link(resp)
        return tags

    # -- blobs ---------------------------------------------------------------
    def has_blob(self, repo: str, digest: str, scopes: Sequence[str] = ()) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
                            scopes=scopes or [pull_scope(repo)])
        resp.close()
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        raise fail(resp, f"blob {digest}")

    def get_blob_bytes(self, repo: str, desc: mf.Descriptor, limit: int = MAX_CONFIG) -> bytes:
        if desc.size > limit:
            raise RegistryError(f"blob {desc.digest}: {desc.size} bytes is too large")
        resp = self.request("GET", f"/v2/{repo}/blobs/{desc.digest}",
                            scopes=[pull_scope(repo)], stream=True,
                            headers={"Accept-Encoding": "identity"})
        if resp.status_code != 200:
            raise fail(resp, f"blob {desc.digest}")
        data = read_limited(resp, desc.size, f"blob {desc.digest}")
        got = sha256_digest(data)
        if got != desc.digest or len(data) != desc.size:
            from ..errors import DigestMismatch

            raise DigestMismatch(f"blob {desc.digest}: content digest {got} does not match")
        return data


def read_limited(resp: httpx.Response, limit: int, what: str) -> bytes:
    out = bytearray()
    try:
        for chunk in resp.iter_raw():
            out += chunk
            if len(out) > limit:
                raise RegistryError(f"{what}: the registry sent more than {limit} bytes")
    except httpx.HTTPError as err:
        raise RegistryError(f"{what}: {_one_line(err)}") from None
    finally:
        resp.close()
    return bytes(out)


def _next_link(resp: httpx.Response) -> str | None:
    link = resp.links.get("next", {}).get("url")
    if not link:
        return None
    return str(resp.url.join(link))


def network_error(method: str, url: str, err: BaseException) -> RegistryError:
    """Go's ``url.Error`` shape: ``Get "http://…/v2/": connection refused``."""
    text = _one_line(err)
    if isinstance(err, httpx.ConnectError) and "Connection refused" in text:
        text = "connect: connection refused"
    return RegistryError(f'{method.capitalize()} "{url}": {text}', status=0)
