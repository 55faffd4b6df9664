"""``login`` / ``logout``: prove credentials against a registry, then keep them.

Login asks ``GET /v2/`` how the registry authenticates: for ``Basic`` the
same request is sent again with the password; for ``Bearer`` the token
server is asked for a token with it.  Only credentials that worked are
stored (in ``config.json`` by default), as Docker does.
"""

from __future__ import annotations

from ..errors import InvalidArgument
from . import AuthEntry, CredentialStore, RegistryError
from .client import Registry
from .credentials import DockerConfig, hostname


def login(server: str | None, username: str, password: str, *, tls_verify: bool = True,
          credentials: CredentialStore | None = None) -> str:
    """Check and store credentials; return Docker's "Login Succeeded"."""
    if not username:
        raise InvalidArgument("Username is required")
    if not password:
        raise InvalidArgument("Password is required")
    domain = hostname(server or "docker.io")
    entry = AuthEntry(username, password)
    with Registry(domain, entry=entry, tls_verify=tls_verify) as reg:
        reg.ping()
        challenge = reg.auth.challenge
        if challenge is not None and challenge.scheme == "bearer":
            reg.auth.check_login()
        if challenge is not None:
            resp = reg.request("GET", "/v2/", scopes=[])
            resp.close()
            if resp.status_code != 200:
                raise RegistryError(
                    f"login attempt to {reg.url('/v2/')} failed with status: "
                    f"{resp.status_code} {resp.reason_phrase}", code="UNAUTHORIZED",
                    status=resp.status_code)
    (credentials or DockerConfig()).store(domain, entry)
    return "Login Succeeded"


def logout(server: str | None, *, credentials: CredentialStore | None = None) -> bool:
    """Forget a registry's credentials; False when there were none."""
    return (credentials or DockerConfig()).erase(hostname(server or "docker.io"))
