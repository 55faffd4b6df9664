"""Authentication: ``WWW-Authenticate`` challenges, basic auth, bearer tokens.

A registry says how it wants to be asked by answering ``GET /v2/`` (or any
later request) with 401 and a challenge.  ``Basic`` means the password goes
on every request.  ``Bearer`` means: ask the *realm* (a token server) for a
token valid for the *scopes* the request needs, sending the password if we
have one (anonymous otherwise), and send ``Authorization: Bearer <token>``.
Tokens are cached per set of scopes until shortly before they expire, so a
pull with many blobs asks the token server once.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx

from . import AuthEntry, RegistryError

# the token spec: a token without expires_in lives 60 s, and never less
DEFAULT_TOKEN_LIFE = 60
EXPIRY_MARGIN = 10  # refresh this many seconds early: a request may be slow to start


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lowercase: "basic", "bearer"
    params: dict[str, str] = field(default_factory=dict)  # keys lowercase


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """All challenges in ``WWW-Authenticate`` header values (RFC 7235).

    A header may carry several challenges separated by commas, and a
    quoted value may itself contain commas (``scope="repository:a:pull,push"``).
    """
    out: list[Challenge] = []
    for header in headers:
        out.extend(_parse_one_header(header))
    return out


def _parse_one_header(s: str) -> list[Challenge]:
    out: list[Challenge] = []
    i, n = 0, len(s)
    current: Challenge | None = None
    while i < n:
        while i < n and s[i] in " \t,":
            i += 1
        start = i
        while i < n and s[i] not in " \t,=":
            i += 1
        token = s[start:i]
        if not token:
            break
        j = i
        while j < n and s[j] in " \t":
            j += 1
        if j < n and s[j] == "=" and current is not None:
            # auth-param: key=value or key="quoted value"
            j += 1
            while j < n and s[j] in " \t":
                j += 1
            if j < n and s[j] == '"':
                j += 1
                value = []
                while j < n and s[j] != '"':
                    if s[j] == "\\" and j + 1 < n:
                        j += 1
                    value.append(s[j])
                    j += 1
                j += 1  # closing quote
                current.params[token.lower()] = "".join(value)
            else:
                vstart = j
                while j < n and s[j] not in ",":
                    j += 1
                current.params[token.lower()] = s[vstart:j].strip()
            i = j
        else:
            current = Challenge(token.lower(), {})
            out.append(current)
            i = j
    return out


def basic_header(entry: AuthEntry) -> str:
    raw = f"{entry.username}:{entry.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _error_detail(resp: httpx.Response) -> str:
    """The message a token server put in its error body, if any."""
    try:
        body = json.loads(resp.content)
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("details", "detail", "message", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
    return ""


class Authorizer:
    """Authorization headers for one registry host.

    ``challenge`` is learnt from a 401 (see :meth:`learn`); until then
    requests go out without credentials, which is what anonymous registries
    want.  Thread-safe: parallel downloads share one token.
    """

    def __init__(self, http: httpx.Client, entry: AuthEntry | None, *,
                 client_id: str = "dockyard") -> None:
        self.http = http
        self.entry = entry
        self.client_id = client_id
        self.challenge: Challenge | None = None
        self.token_requests = 0  # how often the token server was asked (tests, tuning)
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._extra_scopes: set[str] = set()
        self._lock = threading.Lock()

    def learn(self, resp: httpx.Response) -> bool:
        """Take the challenge of a 401; True when it tells us something to retry with."""
        challenges = parse_challenges(resp.headers.get_list("www-authenticate"))
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or \
            next((c for c in challenges if c.scheme == "basic"), None)
        if chosen is None:
            return False
        with self._lock:
            changed = self.challenge != chosen
            self.challenge = chosen
            scope = chosen.params.get("scope", "")
            # a registry may name scopes we did not ask for (a mount's source repo)
            for s in scope.split(" "):
                if s and s not in self._extra_scopes:
                    self._extra_scopes.add(s)
                    changed = True
            if chosen.scheme == "bearer":
                self._tokens.clear()
                return True
        return changed or (chosen.scheme == "basic" and self.entry is not None)

    def header(self, scopes: Sequence[str]) -> str | None:
        c = self.challenge
        if c is None:
            return None
        if c.scheme == "basic":
            return basic_header(self.entry) if self.entry else None
        if c.scheme != "bearer":
            return None
        with self._lock:
            wanted = tuple(sorted(set(scopes) | self._extra_scopes))
            cached = self._tokens.get(wanted)
            if cached and cached[1] > time.monotonic():
                return "Bearer " + cached[0]
            token, life = self._fetch_token(c, wanted)
            self._tokens[wanted] = (token, time.monotonic() + max(life - EXPIRY_MARGIN, 1))
            return "Bearer " + token

    def _fetch_token(self, c: Challenge, scopes: Sequence[str], *,
                     offline: bool = False) -> tuple[str, int]:
        realm = c.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"bearer challenge names an invalid token realm {realm!r}")
        params: list[tuple[str, str]] = []
        if c.params.get("service"):
            params.append(("service", c.params["service"]))
        params.extend(("scope", s) for s in scopes)
        self.token_requests += 1
        try:
            if self.entry is not None and self.entry.identity_token:
                # an identity token is an OAuth2 refresh token (Docker's credential helpers)
                form = dict(params)
                form.update(grant_type="refresh_token", refresh_token=self.entry.identity_token,
                            client_id=self.client_id)
                if scopes:
                    form["scope"] = " ".join(scopes)
                resp = self.http.post(realm, data=form)
            else:
                headers = {}
                if self.entry is not None:
                    params.append(("account", self.entry.username))
                    headers["Authorization"] = basic_header(self.entry)
                if offline:
                    params += [("offline_token", "true"), ("client_id", self.client_id)]
                resp = self.http.get(realm, params=tuple(params), headers=headers)
        except httpx.HTTPError as err:
            raise RegistryError(f'Get "{realm}": {_one_line(err)}', status=0) from None
        if resp.status_code in (401, 403):
            detail = _error_detail(resp) or (
                "incorrect username or password" if self.entry else "authentication required")
            raise RegistryError(f"unauthorized: {detail}", code="UNAUTHORIZED",
                                status=resp.status_code)
        if resp.status_code != 200:
            raise RegistryError(f'Get "{realm}": token server answered {resp.status_code} '
                                f"{resp.reason_phrase}", status=resp.status_code)
        try:
            body = json.loads(resp.content)
            token = body.get("token") or body.get("access_token")
            life = body.get("expires_in") or DEFAULT_TOKEN_LIFE
        except (ValueError, AttributeError):
            token, life = None, 0
        if not isinstance(token, str) or not token or not isinstance(life, int):
            raise RegistryError(f'Get "{realm}": the token server sent no token')
        return token, max(life, DEFAULT_TOKEN_LIFE)

    def check_login(self) -> None:
        """Prove the credentials work with the token server (``docker login``)."""
        c = self.challenge
        if c is None or c.scheme != "bearer":
            return
        with self._lock:
            self._fetch_token(c, (), offline=True)


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())
