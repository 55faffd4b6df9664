"""A registry is untrusted: corrupt blobs, dropped connections, lies and errors."""

from __future__ import annotations

import pytest

from engine.errors import DigestMismatch, InvalidContent, NotFound
from engine.images.reference import Platform
from engine.registry import RegistryError, pull
from tests.conftest import store_state

from .conftest import cli
from .fakeregistry import digest_of, make_image


def _pull(engine, ref: str, **kw):
    return pull(engine.store, engine.snapshots, engine.image_store, ref, **kw)


@pytest.fixture
def seeded(engine, root, fake):
    """A store that already holds one pulled image, so 'unchanged' means something."""
    base = make_image(1, seed=99)
    fake.add_image("seed/img", "1", base)
    _pull(engine, f"{fake.host}/seed/img:1")
    return engine


def test_corrupt_blob_aborts_and_leaves_the_store_unchanged(seeded, root, fake) -> None:
    img = make_image(4, seed=1)
    fake.add_image("bad/img", "1", img)
    fake.corrupt.add(digest_of(img.layers[-1]))  # the others download fine meanwhile
    before = store_state(root)
    with pytest.raises(DigestMismatch, match=r"^blob sha256:[0-9a-f]{64}: content digest "):
        _pull(seeded, f"{fake.host}/bad/img:1")
    assert store_state(root) == before
    # and from the CLI: one line, exit 1
    r = cli(root, "pull", f"{fake.host}/bad/img:1", check=False)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.count("\n") == 1 and "does not match" in err
    assert store_state(root) == before


def test_interrupted_blob_is_resumed_with_range(engine, fake) -> None:
    img = make_image(2, size=400_000, seed=2)
    fake.add_image("flaky/img", "1", img)
    big = digest_of(img.layers[0])
    fake.drop[big] = 2
    res = _pull(engine, f"{fake.host}/flaky/img:1")
    assert res.image_ids == (img.id,)
    gets = [h for m, p, h in fake.log if m == "GET" and p.endswith(big)]
    assert len(gets) == 3
    assert "Range" not in gets[0] and gets[1]["Range"].startswith("bytes=")
    assert int(gets[2]["Range"][6:-1]) > int(gets[1]["Range"][6:-1]) > 0


def test_registry_that_ignores_range_still_works(engine, fake) -> None:
    img = make_image(1, size=400_000, seed=3)
    fake.add_image("norange/img", "1", img)
    fake.drop[digest_of(img.layers[0])] = 1
    fake.ignore_range = True
    assert _pull(engine, f"{fake.host}/norange/img:1").image_ids == (img.id,)


def test_connection_that_always_drops_is_a_clean_error(seeded, root, fake) -> None:
    img = make_image(2, size=200_000, seed=4)
    fake.add_image("dead/img", "1", img)
    fake.drop[digest_of(img.layers[1])] = 1000
    before = store_state(root)
    with pytest.raises(RegistryError, match="gave up after 5 retries"):
        _pull(seeded, f"{fake.host}/dead/img:1")
    assert store_state(root) == before


def test_oversized_blob_is_refused(seeded, root, fake) -> None:
    img = make_image(1, seed=5)
    fake.add_image("big/img", "1", img)
    fake.oversize.add(digest_of(img.layers[0]))
    before = store_state(root)
    with pytest.raises(InvalidContent, match="sent more than"):
        _pull(seeded, f"{fake.host}/big/img:1")
    assert store_state(root) == before


def test_index_resolves_to_the_platform(engine, fake) -> None:
    amd, arm = make_image(1, arch="amd64", seed=6), make_image(1, arch="arm64", seed=7)
    index = fake.add_index("multi/img", "1", [(arm, "arm64"), (amd, "amd64")])
    res = _pull(engine, f"{fake.host}/multi/img:1", platform=Platform("linux", "amd64"))
    assert res.image_ids == (amd.id,) and res.digest == index
    inspect = engine.image_inspect(f"{fake.host}/multi/img:1")
    assert inspect["RepoDigests"] == [f"{fake.host}/multi/img@{index}"]
    assert inspect["Descriptor"]["digest"] == amd.digest
    res = _pull(engine, f"{fake.host}/multi/img:1", platform=Platform("linux", "arm64"))
    assert res.image_ids == (arm.id,) and res.updated
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        _pull(engine, f"{fake.host}/multi/img:1", platform=Platform("linux", "s390x"))
    # a single manifest of another platform, asked for explicitly
    fake.add_image("single/img", "1", amd)
    with pytest.raises(NotFound, match="does not match the specified platform: wanted "
                       "linux/arm64, actual: linux/amd64"):
        _pull(engine, f"{fake.host}/single/img:1", platform=Platform("linux", "arm64"))


@pytest.mark.parametrize(("status", "code", "message", "shown"), [
    (403, "DENIED", "requested access to the resource is denied",
     "denied: requested access to the resource is denied"),
    (400, "NAME_INVALID", "invalid repository name", "name invalid: invalid repository name"),
    (401, "UNAUTHORIZED", "authentication required", "unauthorized: authentication required"),
])
def test_registry_error_json_is_the_message(root, fake, status, code, message, shown) -> None:
    fake.errors["/v2/err/img/manifests/1"] = (status, code, message)
    r = cli(root, "pull", f"{fake.host}/err/img:1", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == f"Error: {shown}\n"


def test_tampered_manifest_by_digest_is_refused(engine, fake) -> None:
    img, other = make_image(1, seed=8), make_image(1, seed=9)
    fake.add_image("tamper/img", None, other)
    # the registry answers a digest request with some other manifest
    fake.manifests[("tamper/img", img.digest)] = (other.manifest, "application/vnd.oci."
                                                  "image.manifest.v1+json")
    with pytest.raises(RegistryError, match="the registry sent content with digest"):
        _pull(engine, f"{fake.host}/tamper/img@{img.digest}")


def test_pull_progress_is_dockers(engine, fake) -> None:
    from engine.images.digest import short_id

    img = make_image(2, seed=10)
    fake.add_image("prog/img", "1", img)
    seen = []
    _pull(engine, f"{fake.host}/prog/img:1", progress=seen.append)
    statuses = [(p.id, p.status) for p in seen if p.status not in ("Downloading", "Extracting")]
    assert statuses[0] == ("1", "Pulling from prog/img")
    for blob in img.layers:
        sid = short_id(digest_of(blob))
        mine = [s for i, s in statuses if i == sid]
        assert mine == ["Pulling fs layer", "Verifying Checksum", "Download complete",
                        "Pull complete"]
    assert statuses[-2:] == [("", f"Digest: {img.digest}"),
                             ("", f"Status: Downloaded newer image for {fake.host}/prog/img:1")]


def test_cancel_leaves_the_store_unchanged(seeded, root, fake) -> None:
    import threading

    from engine.errors import Cancelled

    img = make_image(3, seed=11)
    fake.add_image("cancel/img", "1", img)
    before = store_state(root)
    stop = threading.Event()

    def progress(p) -> None:
        if p.status == "Download complete":
            stop.set()  # cancel once the first layer is in

    with pytest.raises(Cancelled):
        _pull(seeded, f"{fake.host}/cancel/img:1", progress=progress, cancel=stop)
    assert store_state(root) == before


def test_public_surface() -> None:
    import engine.registry as registry

    for name in registry.__all__:
        assert hasattr(registry, name), name
