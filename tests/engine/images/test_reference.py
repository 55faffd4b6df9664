"""References and platforms, checked against distribution/reference and containerd/platforms."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgument, InvalidReference
from engine.images.reference import (
    Platform,
    Reference,
    default_platform,
    looks_like_id,
    parse,
    parse_for_cli,
    parse_platform,
    platform_vector,
)

D = "sha256:" + "7c" * 32

# input → (str(), familiar(), familiar_name)
NORMALISED = [
    ("busybox", "docker.io/library/busybox", "busybox", "busybox"),
    ("library/busybox", "docker.io/library/busybox", "busybox", "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "busybox", "busybox"),
    ("docker.io/library/busybox", "docker.io/library/busybox", "busybox", "busybox"),
    ("index.docker.io/busybox", "docker.io/library/busybox", "busybox", "busybox"),
    ("index.docker.io/user/app:1", "docker.io/user/app:1", "user/app:1", "user/app"),
    ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest", "busybox"),
    ("busybox:LATEST", "docker.io/library/busybox:LATEST", "busybox:LATEST", "busybox"),
    ("user/repo", "docker.io/user/repo", "user/repo", "user/repo"),
    ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b", "library/a/b"),
    ("localhost/foo", "localhost/foo", "localhost/foo", "localhost/foo"),
    ("localhost:5000/foo:tag", "localhost:5000/foo:tag", "localhost:5000/foo:tag",
     "localhost:5000/foo"),
    ("example.com/a/b/c", "example.com/a/b/c", "example.com/a/b/c", "example.com/a/b/c"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x"),
    ("[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x"),
    ("foo@" + D, "docker.io/library/foo@" + D, "foo@" + D, "foo"),
    ("foo:tag@" + D, "docker.io/library/foo:tag@" + D, "foo:tag@" + D, "foo"),
    ("a_b.c__d-e--f", "docker.io/library/a_b.c__d-e--f", "a_b.c__d-e--f", "a_b.c__d-e--f"),
    # an uppercase first component is taken for a registry host, as in Docker
    ("Registry/foo", "Registry/foo", "Registry/foo", "Registry/foo"),
]


@pytest.mark.parametrize(("given", "full", "familiar", "name"), NORMALISED)
def test_normalisation(given: str, full: str, familiar: str, name: str) -> None:
    ref = parse(given)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert ref.familiar_name == name
    assert parse(full) == ref  # the fully qualified form parses back to itself


def test_fields() -> None:
    ref = parse("localhost:5000/team/app:v1@" + D)
    assert ref == Reference("localhost:5000", "team/app", "v1", D)
    assert ref.name == "localhost:5000/team/app"


REFUSED = [
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("user/Repo:tag", "invalid reference format: repository name (user/Repo) must be lowercase"),
    ("example.com/Foo", "invalid reference format: repository name (Foo) must be lowercase"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    (":tag", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("busybox:", "invalid reference format"),
    ("busybox@", "invalid reference format"),
    ("-foo", "invalid reference format"),
    ("foo-", "invalid reference format"),
    ("foo:.tag", "invalid reference format"),
    ("foo bar", "invalid reference format"),
    ("busybox\n", "invalid reference format"),
    ("foo@sha256:abc", "invalid reference format"),
    ("foo@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("foo@sha256:" + "a" * 32, "invalid checksum digest length"),
    ("foo@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("x/" * 127 + "xy", "repository name must not be more than 255 characters"),
]


@pytest.mark.parametrize(("given", "message"), REFUSED)
def test_refused(given: str, message: str) -> None:
    with pytest.raises(InvalidReference) as err:
        parse(given)
    assert str(err.value) == message


def test_limits_are_inclusive() -> None:
    assert parse("busybox:" + "t" * 128).tag == "t" * 128
    # the 255 limit counts the path after normalisation, "library/" included
    assert len(parse("x" * 247).path) == 255
    with pytest.raises(InvalidReference, match="more than 255"):
        parse("x" * 248)
    assert parse("a" * 63).path == "library/" + "a" * 63  # only exactly 64 hex is an ID


def test_parse_for_cli_wraps_message() -> None:
    with pytest.raises(InvalidReference) as err:
        parse_for_cli("bad:")
    assert str(err.value) == ('Error parsing reference: "bad:" is not a valid repository/tag: '
                              "invalid reference format")
    assert parse_for_cli("busybox") == parse("busybox")


def test_tag_and_digest_helpers() -> None:
    ref = parse("busybox")
    assert ref.tagged_or_latest().familiar() == "busybox:latest"
    assert str(ref.tagged_or_latest()) == "docker.io/library/busybox:latest"
    assert parse("busybox:1.37").tagged_or_latest().tag == "1.37"
    assert parse("busybox@" + D).tagged_or_latest().tag is None  # a digest is enough
    assert ref.with_tag("v2").familiar() == "busybox:v2"
    both = ref.with_tag("v2").with_digest(D)
    assert both.familiar() == f"busybox:v2@{D}"
    assert both.with_tag("v3").digest == D  # WithTag keeps the digest
    with pytest.raises(InvalidReference, match="invalid tag format"):
        ref.with_tag(".bad")
    with pytest.raises(InvalidReference, match="invalid digest format"):
        ref.with_digest("sha256:xyz")


@pytest.mark.parametrize(("given", "expected"), [
    ("abc", True), ("0123456789ab", True), ("a" * 64, True), ("sha256:abc", True),
    ("sha256:" + "a" * 64, True), ("", False), ("a" * 65, False), ("ABC", False),
    ("busybox", False), ("sha256:", False), ("sha512:abc", False),
])
def test_looks_like_id(given: str, expected: bool) -> None:
    assert looks_like_id(given) is expected


PLATFORMS = [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/x86_64", Platform("linux", "amd64")),
    ("amd64", Platform("linux", "amd64")),
    ("x86_64", Platform("linux", "amd64")),
    ("aarch64", Platform("linux", "arm64")),
    ("linux/arm64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ("linux/aarch64/8", Platform("linux", "arm64", "v8")),
    ("linux/arm", Platform("linux", "arm")),
    ("linux/armhf", Platform("linux", "arm")),
    ("linux/armel", Platform("linux", "arm", "v6")),
    ("linux/arm/7", Platform("linux", "arm", "v7")),
    ("linux/i386", Platform("linux", "386")),
    ("Linux/AMD64", Platform("linux", "amd64")),
    ("windows/amd64", Platform("windows", "amd64")),
    ("linux/riscv64", Platform("linux", "riscv64")),
]


@pytest.mark.parametrize(("given", "expected"), PLATFORMS)
def test_parse_platform(given: str, expected: Platform) -> None:
    assert parse_platform(given) == expected


@pytest.mark.parametrize("given", ["", "foo", "linux/*", "a/b/c/d", "linux/am d64", "linux//"])
def test_parse_platform_refused(given: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_platform(given)


def test_platform_strings_and_default() -> None:
    assert str(Platform("linux", "arm64", "v8")) == "linux/arm64/v8"
    assert str(Platform("linux", "amd64")) == "linux/amd64"
    host = default_platform()
    assert host.os == "linux" and host.architecture in {"amd64", "arm64", "arm", "386",
                                                          "ppc64le", "s390x", "riscv64"}
    assert parse_platform("linux").architecture == host.architecture


@pytest.mark.parametrize(("want", "expected"), [
    ("linux/amd64", ["linux/amd64", "linux/386"]),
    ("linux/amd64/v3", ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]),
    ("linux/arm/v7", ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]),
    ("linux/arm64", ["linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6",
                     "linux/arm/v5"]),
])
def test_platform_vector(want: str, expected: list[str]) -> None:
    assert [str(p) for p in platform_vector(parse_platform(want))] == expected
