"""Image references and platforms, exactly as Docker parses them.

Grammar (github.com/distribution/reference)::

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain "/"] remote-name
    domain      := host [":" port]        ; DNS-ish name, IPv4 or [IPv6]
    remote-name := path-component ["/" path-component]*   ; lowercase
    tag         := /[\\w][\\w.-]{0,127}/

Normalisation (``ParseNormalizedNamed``): a first component is a domain only
if it is ``localhost``, contains ``.`` or ``:``, or has uppercase letters;
otherwise the domain is ``docker.io``, and a one-component Docker Hub path
gets ``library/``.  ``index.docker.io`` is rewritten to ``docker.io``.
The *familiar* form strips both again for display.

Platforms follow containerd/platforms: ``os[/arch[/variant]]`` or a bare
``arch``, normalised so ``x86_64`` is ``amd64`` and ``aarch64`` is ``arm64``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from ..errors import InvalidArgument, InvalidReference
from .digest import digest_error

__all__ = [
    "Platform",
    "Reference",
    "default_platform",
    "looks_like_id",
    "normalize_platform",
    "parse",
    "parse_for_cli",
    "parse_platform",
    "platform_vector",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

ERR_FORMAT = "invalid reference format"
ERR_UPPERCASE = "repository name must be lowercase"
ERR_EMPTY = "repository name must have at least one component"
ERR_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"

# -- the grammar, transcribed from regexp.go ------------------------------
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = r"(?:" + _DOMAIN_NAME + "|" + _IPV6 + r")(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

# re.ASCII: Go's \w is [0-9A-Za-z_]; fullmatch: Python's $ would accept a trailing newline
_REFERENCE_RE = re.compile(
    r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(
    r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_SHORT_ID_RE = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised reference; ``domain`` is never empty after :func:`parse`."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        rest = self.path.removeprefix(OFFICIAL_PREFIX)
        # only strip "library/" when what remains is a single component
        if rest != self.path and "/" not in rest:
            return rest
        return self.path

    def _with_name(self, name: str) -> str:
        out = name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __str__(self) -> str:
        return self._with_name(self.name)

    def familiar(self) -> str:
        """Docker's ``FamiliarString``: ``busybox:latest``, ``user/app@sha256:…``."""
        return self._with_name(self.familiar_name)

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference("invalid tag format", tag=tag)
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidReference("invalid digest format", digest=digest)
        return replace(self, digest=digest)

    def name_only(self) -> Reference:
        return Reference(self.domain, self.path)

    def tagged_or_latest(self) -> Reference:
        """``TagNameOnly``: add ``latest`` when there is neither tag nor digest."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self


def _split_docker_domain(name: str) -> tuple[str, str]:
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + name
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # namespaces cannot be uppercase, so Docker takes it for a host name
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _parse_canonical(s: str) -> Reference:
    """distribution/reference ``Parse`` for a string that already has a domain."""
    if s == "":
        raise InvalidReference(ERR_EMPTY, reference=s)
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        low = s.lower()
        if low != s and _REFERENCE_RE.fullmatch(low):
            raise InvalidReference(ERR_UPPERCASE, reference=s)
        raise InvalidReference(ERR_FORMAT, reference=s)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    domain, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(ERR_TOO_LONG, reference=s)
    if digest is not None:
        err = digest_error(digest)
        if err is not None:
            raise InvalidReference(err, reference=s)
    return Reference(domain, path, tag or None, digest)


def parse(s: str) -> Reference:
    """``ParseNormalizedNamed``: ``busybox`` → ``docker.io/library/busybox``.

    Raises InvalidReference carrying Docker's bare message.
    """
    if _IDENTIFIER_RE.fullmatch(s):
        raise InvalidReference(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings",
            reference=s)
    domain, remainder = _split_docker_domain(s)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"{ERR_FORMAT}: repository name ({remote}) must be lowercase", reference=s)
    return _parse_canonical(domain + "/" + remainder)


def parse_for_cli(s: str) -> Reference:
    """:func:`parse`, with the message wrapped the way Docker shows it for a tag."""
    try:
        return parse(s)
    except InvalidReference as err:
        raise InvalidReference(
            f'Error parsing reference: "{s}" is not a valid repository/tag: {err.message}',
            reference=s) from None


def looks_like_id(s: str) -> bool:
    """True for what may be a (short) image ID: 1–64 lowercase hex, optional ``sha256:``."""
    return _SHORT_ID_RE.fullmatch(s) is not None


# -- platforms (containerd/platforms) -------------------------------------

_KNOWN_OS = frozenset({
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
    "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"})
_KNOWN_ARCH = frozenset({
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
    "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
    "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"})
_OS_PART = re.compile(r"[A-Za-z0-9_-]+")
_SPEC_PART = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Platform:
    """An OCI platform: ``linux/amd64``, ``linux/arm/v7``."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:  # containerd's platforms.Format
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _normalize_os(os_: str) -> str:
    os_ = os_.lower() if os_ else "linux"
    return "darwin" if os_ == "macos" else os_


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


def normalize_platform(p: Platform) -> Platform:
    """containerd's ``Normalize``: the canonical form two platforms are compared in."""
    arch, variant = _normalize_arch(p.architecture, p.variant)
    return Platform(_normalize_os(p.os), arch, variant)


def _host_platform() -> Platform:
    machine = os.uname().machine.lower()  # what platform.machine() returns, without its import
    if machine.startswith("armv") and machine[4:5].isdigit():  # armv7l, armv6l
        return Platform("linux", "arm", "v" + machine[4])
    return normalize_platform(Platform("linux", machine or "amd64"))


def default_platform() -> Platform:
    """The host's platform in the form Docker prints (``linux/amd64``, ``linux/arm/v7``)."""
    # normalisation already drops arm64's implied v8; arm keeps its variant as Docker shows it
    return _host_platform()


def parse_platform(s: str) -> Platform:
    """containerd's ``platforms.Parse`` (without OS version/feature options)."""
    def bad(why: str) -> InvalidArgument:
        return InvalidArgument(f'"{s}": {why}: invalid argument', platform=s)

    if "*" in s:
        raise bad("wildcards not yet supported")
    parts = s.split("/", 3)
    for i, part in enumerate(parts):
        pattern = _OS_PART if i == 0 else _SPEC_PART
        if not pattern.fullmatch(part):
            what = "OS component" if i == 0 else "component"
            raise InvalidArgument(
                f'"{part}" is an invalid {what} of "{s}": platform specifier component '
                f'must match "^{pattern.pattern}$": invalid argument', platform=s)
    os_ = _normalize_os(parts[0])
    if len(parts) == 1:
        if os_ in _KNOWN_OS:
            host = _host_platform()
            return Platform(os_, host.architecture,
                            host.variant if host.architecture == "arm" and host.variant != "v7"
                            else "")
        arch, variant = _normalize_arch(parts[0], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in _KNOWN_ARCH:
            return Platform("linux", arch, variant)
        raise bad("unknown operating system or architecture")
    if len(parts) == 2:
        arch, variant = _normalize_arch(parts[1], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        return Platform(os_, arch, variant)
    if len(parts) == 3:
        arch, variant = _normalize_arch(parts[1], parts[2])
        if arch == "arm64" and variant == "":
            variant = "v8"
        return Platform(os_, arch, variant)
    raise bad("cannot parse platform specifier")


def _variant_number(variant: str) -> int | None:
    digits = variant.removeprefix("v")
    return int(digits) if digits.isdigit() else None


def platform_vector(want: Platform) -> list[Platform]:
    """containerd's ``platformVector``: ``want`` then what it can also run, best first.

    amd64/vN also runs amd64/vN-1…v1 and 386; arm/vN runs arm/vN-1…v5;
    arm64 runs arm64/v8.x-1…, then arm/v8…v5.
    """
    p = normalize_platform(want)
    out = [p]
    n = _variant_number(p.variant)
    if p.architecture == "amd64":
        if n is not None and n > 1:
            out += [Platform(p.os, "amd64", f"v{k}") for k in range(n - 1, 0, -1)]
        out.append(Platform(p.os, "386"))
    elif p.architecture == "arm":
        if n is not None and n > 5:
            out += [Platform(p.os, "arm", f"v{k}") for k in range(n - 1, 4, -1)]
    elif p.architecture == "arm64":
        variant = p.variant or "v8"
        major_s, _, minor_s = variant.removeprefix("v").partition(".")
        if major_s.isdigit() and int(major_s) >= 8:
            major = int(major_s)
            minor = int(minor_s) if minor_s.isdigit() and len(variant) == 4 else 0
            if major == 9:
                out += [Platform(p.os, "arm64", f"v9.{k}" if k else "v9")
                        for k in range(minor - 1, -1, -1)]
                # v9.x diverged from v8.(x+5)
                major, minor = 8, minor + 5
                out.append(Platform(p.os, "arm64", f"v8.{minor}"))
            out += [Platform(p.os, "arm64", f"v{major}.{k}" if k else f"v{major}")
                    for k in range(minor - 1, -1, -1)]
        if variant.startswith(("v8.", "v9.")):
            variant = "v8"
        out += platform_vector(Platform(p.os, "arm", variant))
    # normalise again so comparisons are like containerd's matcher (arm64/v8 == arm64)
    return [normalize_platform(x) for x in out]
