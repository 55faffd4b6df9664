"""Image IDs and configs: digests, chain IDs, the busybox config, history, time, --change."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidArgument, InvalidContent
from engine.images.changes import apply_changes
from engine.images.config import (
    ImageConfig,
    chain_ids,
    format_created,
    layer_history,
    parse_config,
    parse_rfc3339,
)
from engine.images.digest import Sha256Writer, hex_of, sha256_digest, short_id, validate_digest

FIXTURE = Path("/work/shared/fixtures/images/busybox-1.37.0-musl-amd64-oci.tar")
CONFIG_DIGEST = "sha256:cafb65f54bc46b59c4915955dc3c1e89e0a4ceab9f42a998e58a173f191d04ff"
LAYER_DIGEST = "sha256:f4255029a25bc97fe31c78724f2972e1ad162354163517d2bf202005a1c3c906"
D1, D2, D3 = ("sha256:" + c * 64 for c in "abc")


def _blob(digest: str) -> bytes:
    with tarfile.open(FIXTURE) as tar:
        f = tar.extractfile("blobs/" + digest.replace(":", "/"))
        assert f is not None
        return f.read()


# -- digests ---------------------------------------------------------------------

def test_digest_helpers() -> None:
    assert sha256_digest(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert hex_of(D1) == "a" * 64 and hex_of("a" * 64) == "a" * 64
    assert short_id(CONFIG_DIGEST) == "cafb65f54bc4"
    assert validate_digest(D1) == D1
    assert validate_digest("sha512:" + "0" * 128).startswith("sha512:")


@pytest.mark.parametrize("bad", [
    "", "sha256:", "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "g" * 64,
    "md5:" + "a" * 32, "SHA256:" + "a" * 64, "sha512:" + "a" * 64, " sha256:" + "a" * 64,
])
def test_validate_digest_refuses(bad: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_digest(bad)
    assert str(err.value) == f'invalid digest "{bad}"'


def test_sha256_writer_streams_a_tar() -> None:
    data = _blob(LAYER_DIGEST)
    sink = Sha256Writer()
    for i in range(0, len(data), 65536):
        sink.write(data[i:i + 65536])
    assert sink.digest == LAYER_DIGEST == sha256_digest(data)
    assert sink.size == len(data) == sink.tell()
    # usable as a tarfile stream target, so a DiffID can be computed without a temp file
    sink = Sha256Writer()
    with tarfile.open(fileobj=sink, mode="w|") as tar:  # type: ignore[call-overload]
        tar.addfile(tarfile.TarInfo("empty"), io.BytesIO(b""))
    assert sink.size == 10240 and sink.digest.startswith("sha256:")


# -- chain IDs and the real busybox config ----------------------------------------------

def test_chain_ids() -> None:
    assert chain_ids([]) == []
    assert chain_ids([D1]) == [D1]
    two = sha256_digest(f"{D1} {D2}".encode())
    assert chain_ids([D1, D2, D3]) == [D1, two, sha256_digest(f"{two} {D3}".encode())]
    assert chain_ids([D2, D1])[1] != chain_ids([D1, D2])[1]  # order matters


def test_busybox_config() -> None:
    data = _blob(CONFIG_DIGEST)
    assert sha256_digest(data) == CONFIG_DIGEST  # the image ID is the config's digest
    cfg = parse_config(data, digest=CONFIG_DIGEST)
    [diff_id] = cfg.diff_ids
    # the DiffID is the digest of the *uncompressed* layer
    assert sha256_digest(gzip.decompress(_blob(LAYER_DIGEST))) == diff_id
    assert chain_ids(cfg.diff_ids) == [diff_id]
    assert (cfg.os, cfg.architecture, cfg.variant, cfg.author) == ("linux", "amd64", "", "")
    assert cfg.config["Cmd"] == ["sh"] and cfg.labels == {}
    assert cfg.created == parse_rfc3339("2024-09-26T21:31:42Z") == 1727386302.0
    assert cfg.created_text == "2024-09-26T21:31:42Z"
    assert not cfg.history_mismatch
    [(layer, entry)] = layer_history(cfg)
    assert layer == {"index": 0, "diff_id": diff_id, "chain_id": diff_id}
    assert entry["created_by"] == "BusyBox 1.37.0 (musl), Alpine 3.23.5"


def _config(**overrides: Any) -> bytes:
    doc: dict[str, Any] = {"architecture": "amd64", "os": "linux",
                           "rootfs": {"type": "layers", "diff_ids": [D1, D2]}}
    doc.update(overrides)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("data", "message"), [
    (b"[]", "expected a JSON object"),
    (b"{", "not valid JSON"),
    (_config(rootfs=None), "rootfs: missing or not an object"),
    (_config(rootfs={"type": "Layers", "diff_ids": []}), 'rootfs.type: must be "layers"'),
    (_config(rootfs={"type": "layers", "diff_ids": D1}), "rootfs.diff_ids: must be a list"),
    (_config(rootfs={"type": "layers", "diff_ids": [D1, "sha256:x"]}),
     'rootfs.diff_ids[1]: invalid digest "sha256:x"'),
    (_config(history={}), "history: must be a list"),
    (_config(history=["x"]), "history[0]: must be an object"),
    (_config(config=[]), "config: must be an object"),
    (_config(config={"Labels": {"a": 1}}), "config.Labels: must be an object of strings"),
])
def test_bad_config(data: bytes, message: str) -> None:
    with pytest.raises(InvalidContent) as err:
        parse_config(data, digest=D3)
    assert str(err.value).startswith(f"image config {D3}: ") and message in str(err.value)


def test_history_pairs_layers() -> None:
    history = [{"created_by": "FROM"}, {"created_by": "ENV", "empty_layer": True},
               {"created_by": "RUN"}]
    cfg = parse_config(_config(history=history))
    pairs = layer_history(cfg)
    assert [(lay["diff_id"] if lay else None, h["created_by"]) for lay, h in pairs] == [
        (D1, "FROM"), (None, "ENV"), (D2, "RUN")]
    assert pairs[2][0] == {"index": 1, "diff_id": D2, "chain_id": chain_ids([D1, D2])[1]}
    assert not cfg.history_mismatch


@pytest.mark.parametrize(("history", "layers"), [
    ([{"created_by": "one"}], [D1, D2]),  # fewer steps than layers: the rest shown bare
    ([{"created_by": str(i)} for i in range(3)], [D1, D2, None]),
])
def test_history_mismatch_is_tolerated(history: list[dict[str, Any]],
                                       layers: list[str | None]) -> None:
    cfg = parse_config(_config(history=history))
    assert cfg.history_mismatch
    assert [lay["diff_id"] if lay else None for lay, _ in layer_history(cfg)] == layers


def test_no_history_lists_layers() -> None:
    cfg = parse_config(_config())
    assert not cfg.history_mismatch
    assert [h for _, h in layer_history(cfg)] == [{}, {}]


# -- time ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "ts", "shown"), [
    ("2024-09-26T21:31:42Z", 1727386302.0, "2024-09-26T21:31:42Z"),
    ("2024-09-26T21:31:42.5Z", 1727386302.5, "2024-09-26T21:31:42.5Z"),
    ("2024-09-26T21:31:42.123456789Z", 1727386302.123456789, "2024-09-26T21:31:42.123456789Z"),
    ("2024-09-26T23:31:42.100+02:00", 1727386302.1, "2024-09-26T23:31:42.1+02:00"),
    ("2024-09-26T16:01:42-05:30", 1727386302.0, "2024-09-26T16:01:42-05:30"),
    ("1970-01-01T00:00:00Z", 0.0, "1970-01-01T00:00:00Z"),
])
def test_rfc3339(text: str, ts: float, shown: str) -> None:
    assert parse_rfc3339(text) == pytest.approx(ts, abs=1e-6)
    assert ImageConfig({"created": text}).created_text == shown


@pytest.mark.parametrize("bad", ["", "2024-09-26", "2024-13-01T00:00:00Z",
                                 "2024-02-30T00:00:00Z", "2024-09-26T21:31:42", "yesterday"])
def test_rfc3339_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_rfc3339(bad)
    assert ImageConfig({"created": bad}).created == 0.0


def test_created_absent_or_zero() -> None:
    assert ImageConfig({}).created == 0.0
    assert ImageConfig({"created": 12}).created == 0.0
    assert ImageConfig({"created": "0001-01-01T00:00:00Z"}).created == 0.0


def test_format_created() -> None:
    assert format_created(1727386302.0) == "2024-09-26T21:31:42Z"
    assert format_created(1727386302.25) == "2024-09-26T21:31:42.25Z"
    assert format_created(1727386302.1234567) == "2024-09-26T21:31:42.123457Z"
    assert format_created(0.0) == "1970-01-01T00:00:00Z"
    assert parse_rfc3339(format_created(1727386302.5)) == 1727386302.5


# -- --change ------------------------------------------------------------------------

BASE = {"Env": ["PATH=/usr/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/srv"}

CHANGES = [
    ('CMD ["echo", "hi"]', {"Cmd": ["echo", "hi"]}),
    ("CMD echo hi", {"Cmd": ["/bin/sh", "-c", "echo hi"]}),
    ("cmd [not json", {"Cmd": ["/bin/sh", "-c", "[not json"]}),
    ('ENTRYPOINT ["/app"]', {"Entrypoint": ["/app"], "Cmd": None}),
    ("ENTRYPOINT /app -x", {"Entrypoint": ["/bin/sh", "-c", "/app -x"], "Cmd": None}),
    ("ENV A=2 B=\"two words\"", {"Env": ["PATH=/usr/bin", "A=2", "B=two words"]}),
    ("ENV PATH=/x:$PATH", {"Env": ["PATH=/x:/usr/bin", "A=1"]}),
    ("ENV C=${NOPE:-dflt} D='$A'", {"Env": ["PATH=/usr/bin", "A=1", "C=dflt", "D=$A"]}),
    ("ENV LEGACY some value", {"Env": ["PATH=/usr/bin", "A=1", "LEGACY=some value"]}),
    ("EXPOSE 80 53/udp 8000-8001", {"ExposedPorts": {"80/tcp": {}, "53/udp": {},
                                                     "8000/tcp": {}, "8001/tcp": {}}}),
    ('LABEL a=b "c d"=e', {"Labels": {"a": "b", "c d": "e"}}),
    ("USER nobody:nogroup", {"User": "nobody:nogroup"}),
    ("user\t$A", {"User": "1"}),
    ("WORKDIR app", {"WorkingDir": "/srv/app"}),
    ("WORKDIR ../x", {"WorkingDir": "/x"}),
    ("WORKDIR /abs", {"WorkingDir": "/abs"}),
    ("VOLUME /data /logs", {"Volumes": {"/data": {}, "/logs": {}}}),
    ('VOLUME ["/data"]', {"Volumes": {"/data": {}}}),
    ("STOPSIGNAL SIGKILL", {"StopSignal": "SIGKILL"}),
    ("STOPSIGNAL 9", {"StopSignal": "9"}),
    ("ONBUILD RUN make", {"OnBuild": ["RUN make"]}),
    ("HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://x/",
     {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://x/"], "Interval": 30_000_000_000,
                      "Retries": 3}}),
    ("HEALTHCHECK NONE", {"Healthcheck": {"Test": ["NONE"]}}),
]


@pytest.mark.parametrize(("change", "expected"), CHANGES)
def test_apply_change(change: str, expected: dict[str, Any]) -> None:
    before = json.loads(json.dumps(BASE))
    out = apply_changes(BASE, [change])
    assert out == {**BASE, **expected}
    assert BASE == before  # the input is left alone


def test_cmd_set_with_entrypoint_survives() -> None:
    out = apply_changes({"Cmd": ["old"]}, ['CMD ["new"]', 'ENTRYPOINT ["/e"]'])
    assert out == {"Cmd": ["new"], "Entrypoint": ["/e"]}
    out = apply_changes({}, ["ENV A=1", "ENV B=$A", "ENV A=3"])
    assert out["Env"] == ["A=3", "B=1"]


@pytest.mark.parametrize(("change", "message"), [
    ("FOO bar", "foo is not a valid change command"),
    ("RUN make", "run is not a valid change command"),
    ("EXPOSE 80/xyz", "invalid proto: xyz"),
    ("EXPOSE abc", "invalid containerPort: abc"),
    ("ENV A", "ENV must have two arguments"),
    ("ENV A=1 B", 'can\'t find = in "B"'),
    ("STOPSIGNAL NOPE", "Invalid signal: NOPE"),
    ("USER", "USER requires exactly one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("HEALTHCHECK --interval=10us CMD x", "cannot be less than 1ms"),
    ("HEALTHCHECK SOMETIMES x", "Unknown type"),
    ("VOLUME []", "VOLUME specified can not be an empty string"),
])
def test_apply_change_refused(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        apply_changes(BASE, [change])
    assert message in str(err.value)
