"""Auth: basic (real registry with htpasswd), bearer tokens (fake token server),
challenge parsing, and credentials in $DOCKER_CONFIG/config.json."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from engine.registry import AuthEntry, RegistryError, login, logout, pull, push
from engine.registry.auth import parse_challenges
from engine.registry.credentials import DOCKER_HUB_KEY, DockerConfig, server_key
from tests.conftest import MUSL, store_state

from .conftest import PASSWORD, USER, cli, skopeo
from .fakeregistry import make_image

# -- basic auth against docker-registry ---------------------------------------


def test_login_push_pull_logout_with_htpasswd(root, auth_registry, docker_config) -> None:
    host = auth_registry.host
    r = cli(root, "login", "-u", USER, "--password-stdin", host, input=b"wrong\n", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == (f"Error: login attempt to http://{host}/v2/ failed with "
                                 "status: 401 Unauthorized\n")
    assert not (docker_config / "config.json").exists()

    r = cli(root, "login", "-u", USER, "--password-stdin", host,
            input=PASSWORD.encode() + b"\n")
    assert r.stdout.decode() == "Login Succeeded\n"
    cfg = docker_config / "config.json"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    auth = json.loads(cfg.read_text())["auths"][host]["auth"]
    assert base64.b64decode(auth).decode() == f"{USER}:{PASSWORD}"

    ref = f"{host}/private/busybox:1"
    cli(root, "load", "-i", str(MUSL))
    cli(root, "tag", "busybox:1.37.0-musl", ref)
    cli(root, "push", ref)
    seen = json.loads(skopeo("inspect", "--tls-verify=false", "--creds",
                             f"{USER}:{PASSWORD}", f"docker://{ref}").stdout)
    other = root.parent / "other"
    cli(other, "pull", ref)
    assert json.loads(cli(other, "image", "inspect", ref).stdout)[0]["RepoDigests"] == [
        f"{host}/private/busybox@{seen['Digest']}"]

    assert cli(root, "logout", host).stdout.decode() == \
        f"Removing login credentials for {host}\n"
    assert cli(root, "logout", host).stdout.decode() == f"Not logged in to {host}\n"
    third = root.parent / "third"
    r = cli(third, "pull", ref, check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == "Error: unauthorized: authentication required\n"


def test_wrong_password_in_config_is_one_line(root, auth_registry, docker_config) -> None:
    DockerConfig().store(auth_registry.host, AuthEntry(USER, "nope"))
    cli(root, "images")  # create the root
    before = store_state(root)
    r = cli(root, "pull", f"{auth_registry.host}/x/y:1", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == "Error: unauthorized: authentication required\n"
    assert store_state(root) == before


# -- bearer tokens against the fake registry ------------------------------------


def test_bearer_flow_with_token_cache(engine, fake, docker_config) -> None:
    fake.users = {"bob": "hunter2"}
    img = make_image(4)
    fake.add_image("team/app", "1", img)
    with pytest.raises(RegistryError, match="^unauthorized: authentication required$"):
        pull(engine.store, engine.snapshots, engine.image_store, f"{fake.host}/team/app:1")
    assert not fake.token_requests or all("account" not in q for q in fake.token_requests)

    assert login(fake.host, "bob", "hunter2") == "Login Succeeded"
    fake.token_requests.clear()
    res = pull(engine.store, engine.snapshots, engine.image_store, f"{fake.host}/team/app:1")
    assert res.image_ids == (img.id,)
    # one token, asked for once, for exactly the repository's pull scope
    assert len(fake.token_requests) == 1
    q = fake.token_requests[0]
    assert q["scope"] == ["repository:team/app:pull"]
    assert q["service"] == ["fake"] and q["account"] == ["bob"]
    blob_gets = fake.requests("GET", r"/blobs/sha256:")
    assert len(blob_gets) == 5  # config + 4 layers, all with the cached token
    assert len({h["Authorization"] for _, _, h in blob_gets}) == 1

    # push asks for pull,push on the target repository
    engine.tag(f"{fake.host}/team/app:1", f"{fake.host}/team/copy:2")
    fake.token_requests.clear()
    (pushed,) = push(engine.store, engine.snapshots, engine.image_store,
                     f"{fake.host}/team/copy:2")
    assert pushed.digest == img.digest
    scopes = {s for q in fake.token_requests for s in q.get("scope", [])}
    assert "repository:team/copy:pull,push" in scopes
    assert fake.manifests[("team/copy", "2")][0] == img.manifest


def test_bearer_wrong_password_and_anonymous(engine, fake) -> None:
    fake.users = {"bob": "hunter2"}
    with pytest.raises(RegistryError, match="^unauthorized: incorrect username or password$"):
        login(fake.host, "bob", "wrong")
    assert not Path(DockerConfig().path).exists()
    fake.anonymous_pull = True
    fake.token_requests.clear()
    img = make_image(1)
    fake.add_image("pub/app", "latest", img)
    res = pull(engine.store, engine.snapshots, engine.image_store, f"{fake.host}/pub/app")
    assert res.image_ids == (img.id,)
    assert all("account" not in q for q in fake.token_requests)


def test_bearer_login_via_cli(root, fake, docker_config) -> None:
    fake.users = {"bob": "hunter2"}
    r = cli(root, "login", fake.host, "-u", "bob", "-p", "hunter2")
    assert r.stdout.decode() == "Login Succeeded\n"
    assert "WARNING! Using --password via the CLI is insecure" in r.stderr.decode()
    r = cli(root, "login", fake.host, "-u", "bob", "-p", "bad", check=False)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines()[-1] == \
        "Error: unauthorized: incorrect username or password"


# -- challenges -----------------------------------------------------------------


def test_parse_challenges() -> None:
    (c,) = parse_challenges(['Bearer realm="https://auth.example/token",'
                             'service="registry.example",scope="repository:a/b:pull,push"'])
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.example/token", "service": "registry.example",
                        "scope": "repository:a/b:pull,push"}
    cs = parse_challenges(['Basic realm="x", Bearer realm="y",service=z', 'Digest nonce="1"'])
    assert [c.scheme for c in cs] == ["basic", "bearer", "digest"]
    assert cs[1].params == {"realm": "y", "service": "z"}
    (q,) = parse_challenges([r'Bearer realm="a\"b"'])
    assert q.params["realm"] == 'a"b'
    assert parse_challenges([""]) == []


# -- credentials ------------------------------------------------------------------


def test_docker_config_conformance(tmp_path) -> None:
    """The CredentialStore contract, on the config.json implementation."""
    store = DockerConfig(str(tmp_path / "cfg"))
    assert store.get("example.com") is None
    assert store.erase("example.com") is False
    store.store("example.com:5000", AuthEntry("u", "p:with:colons"))
    assert store.get("example.com:5000") == AuthEntry("u", "p:with:colons")
    assert store.get("https://example.com:5000/v1/") == AuthEntry("u", "p:with:colons")
    assert store.erase("example.com:5000") is True
    assert store.get("example.com:5000") is None


def test_docker_config_file_format(tmp_path, docker_config) -> None:
    docker_config.mkdir()
    path = docker_config / "config.json"
    legacy = base64.b64encode(b"old:pw").decode()
    path.write_text(json.dumps({"auths": {"https://legacy.example/v1/": {"auth": legacy}},
                                "psFormat": "table {{.ID}}"}))
    store = DockerConfig()  # from $DOCKER_CONFIG
    assert store.path == str(path)
    assert store.get("legacy.example") == AuthEntry("old", "pw")
    store.store("docker.io", AuthEntry("hubuser", "pw"))
    obj = json.loads(path.read_text())
    assert obj["psFormat"] == "table {{.ID}}"  # other keys survive
    assert DOCKER_HUB_KEY in obj["auths"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get("index.docker.io") == AuthEntry("hubuser", "pw")
    assert server_key("registry-1.docker.io") == DOCKER_HUB_KEY
    assert logout("docker.io") is True
    assert DOCKER_HUB_KEY not in json.loads(path.read_text())["auths"]

