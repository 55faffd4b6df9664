"""engine.filters: Docker's --filter parsing and image matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import InvalidArgument, NotFound
from engine.filters import (
    IMAGE_FILTERS,
    Filters,
    match_image,
    match_labels,
    match_reference,
    match_text,
    matching_refs,
    parse_filters,
    parse_text_filter,
    parse_until,
)
from engine.images import ImageSummary

NOW = 1_700_000_000.0


def img(tags=(), digests=(), created=0.0, labels=None, name="x") -> ImageSummary:
    return ImageSummary(
        id="sha256:" + name * 64,
        repo_tags=tuple(tags),
        repo_digests=tuple(digests),
        created=created,
        size=0,
        labels=dict(labels or {}),
    )


# -- parse_filters -------------------------------------------------------------


def test_parse_filters_splits_on_first_equals_and_collects_values():
    f = parse_filters(["label=a=b", "label=c", "dangling=true", "label=c"], IMAGE_FILTERS)
    assert f == {"label": ("a=b", "c"), "dangling": ("true",)}
    assert f["label"] == ("a=b", "c")  # a set: the repeated value collapses
    assert f.values_of("before") == ()
    assert "before" not in f and len(f) == 2


def test_parse_filters_trims_and_lowercases_key_like_docker_cli():
    assert parse_filters([" Dangling = true "], IMAGE_FILTERS) == {"dangling": ("true",)}
    assert parse_filters([""], IMAGE_FILTERS) == {}  # docker ignores --filter ""


def test_parse_filters_errors_use_dockers_messages():
    with pytest.raises(InvalidArgument, match=r"^bad format of filter \(expected name=value\)$"):
        parse_filters(["dangling"], IMAGE_FILTERS)
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'color'$"):
        parse_filters(["color=red"], IMAGE_FILTERS)


def test_filters_is_a_frozen_hashable_mapping():
    f = parse_filters(["reference=a*"], IMAGE_FILTERS)
    with pytest.raises(TypeError):
        f["reference"] = ("b",)  # type: ignore[index]
    assert hash(f) == hash(Filters({"reference": ["a*"]}))
    assert Filters() == {} and not Filters()


def test_parse_text_filter_separates_known_keys_from_free_text():
    f, term = parse_text_filter("  web dangling=false label=a=b  Foo=1 x=y", IMAGE_FILTERS)
    assert f == {"dangling": ("false",), "label": ("a=b",)}
    assert term == "web Foo=1 x=y"
    assert parse_text_filter("", IMAGE_FILTERS) == (Filters(), "")


def test_match_text_is_case_insensitive_substring():
    assert match_text("", "anything")
    assert match_text("BusyB", "docker.io/busybox", "x")
    assert not match_text("alpine", "busybox", "latest")


def test_match_labels_needs_every_label():
    labels = {"a": "1", "b": "2", "e": ""}
    assert match_labels(labels, [])
    assert match_labels(labels, ["a", "b=2", "e="])
    assert not match_labels(labels, ["a", "c"])
    assert not match_labels(labels, ["a=2"])
    assert not match_labels({}, ["a"])


# -- reference globs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "pattern", "expected"),
    [
        ("busybox:latest", "busybox", True),  # the name alone
        ("busybox:latest", "busy*", True),
        ("busybox:latest", "busybox:lat*", True),
        ("busybox:latest", "busybox:1.*", False),
        ("busybox:1.37", "busybox:1.??", True),
        ("library/busybox:1", "*", False),  # "*" does not cross "/"
        ("library/busybox:1", "*/*", True),
        ("localhost:5000/a/b:1", "localhost:5000/a/*", True),
        ("localhost:5000/a/b:1", "localhost:5000/*", False),
        ("busybox@sha256:" + "a" * 64, "busybox", True),
        ("busybox:latest", "[ab]usybox", True),
        ("busybox:latest", "[^b]usybox", False),
        ("busybox:latest", "[a-c]usybox:*", True),
        ("busybox:latest", "busybox\\:latest", True),
    ],
)
def test_match_reference_has_path_match_semantics(ref, pattern, expected):
    assert match_reference(ref, pattern) is expected


@pytest.mark.parametrize("pattern", ["[", "a[]", "a\\", "[z-a]", "[-]"])
def test_match_reference_refuses_bad_patterns(pattern):
    with pytest.raises(InvalidArgument, match="^syntax error in pattern$"):
        match_reference("busybox:latest", pattern)


def test_matching_refs_keeps_refs_matching_any_pattern():
    refs = ("a:1", "a:2", "b:1")
    assert matching_refs(refs, ["a:2", "b"]) == ("a:2", "b:1")
    assert matching_refs(refs, []) == refs


# -- parse_until -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10m", NOW - 600),
        ("1h30m", NOW - 5400),
        ("24h", NOW - 86400),
        ("1.5h", NOW - 5400),
        ("90s", NOW - 90),
        ("-1h", NOW + 3600),
        ("0", 0.0),  # "0" is a timestamp, not a duration
        ("1600000000", 1_600_000_000.0),
        ("1600000000.5", 1_600_000_000.5),
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14T23:13:20+01:00", NOW),
        ("2023-11-14T22:13:20.25Z", NOW + 0.25),
        ("2023-11-14T22:13Z", NOW - 20),
        ("2023-11-14Z", NOW - 22 * 3600 - 13 * 60 - 20),
    ],
)
def test_parse_until_accepts_dockers_forms(value, expected):
    assert parse_until(value, NOW) == pytest.approx(expected)


def test_parse_until_without_zone_is_local_time():
    local = datetime(2023, 11, 14, 10, 0, 0).astimezone()
    assert parse_until("2023-11-14T10:00:00", NOW) == local.timestamp()
    assert parse_until("2023-11-14", NOW) == datetime(2023, 11, 14).astimezone().timestamp()


def test_parse_until_duration_truncates_to_whole_seconds():
    assert parse_until("1s", NOW + 0.75) == NOW - 1  # Go: .Unix() drops the fraction


@pytest.mark.parametrize("value", ["abc", "10x", "2023-13-01", "h", "1.2.3", ""])
def test_parse_until_refuses_garbage(value):
    with pytest.raises(InvalidArgument):
        parse_until(value, NOW)


def test_parse_until_message_for_non_time():
    with pytest.raises(InvalidArgument, match='failed to parse value as time or duration: "abc"'):
        parse_until("abc", NOW)


# -- match_image --------------------------------------------------------------------


def _no_resolve(ref: str) -> ImageSummary:
    raise AssertionError(f"unexpected resolve({ref})")


def test_dangling_filter():
    tagged, untagged = img(tags=["a:1"]), img()
    digest_only = img(digests=["a@sha256:" + "b" * 64])
    yes = parse_filters(["dangling=true"], IMAGE_FILTERS)
    no = parse_filters(["dangling=false"], IMAGE_FILTERS)
    assert [match_image(i, yes, resolve=_no_resolve) for i in (tagged, untagged)] == [False, True]
    assert [match_image(i, no, resolve=_no_resolve) for i in (tagged, untagged)] == [True, False]
    # Docker lists an image known only by digest in both cases.
    assert match_image(digest_only, yes, resolve=_no_resolve)
    assert match_image(digest_only, no, resolve=_no_resolve)
    assert match_image(untagged, Filters({"dangling": ["1"]}), resolve=_no_resolve)


@pytest.mark.parametrize("values", [["maybe"], ["true", "false"]])
def test_dangling_filter_refuses_bad_values(values):
    f = Filters({"dangling": values})
    with pytest.raises(InvalidArgument, match=r"^Invalid filter 'dangling=\[.*\]'$"):
        match_image(img(), f, resolve=_no_resolve)
    if values == ["maybe"]:
        with pytest.raises(InvalidArgument, match=r"^Invalid filter 'dangling=\[maybe\]'$"):
            match_image(img(), f, resolve=_no_resolve)


def test_before_and_since_compare_created_strictly():
    images = {"old": img(created=100), "mid": img(created=200), "new": img(created=300)}

    def resolve(ref):
        return images[ref]

    def names(*args):
        f = parse_filters(list(args), IMAGE_FILTERS)
        return [n for n, i in images.items() if match_image(i, f, resolve=resolve)]

    assert names("before=mid") == ["old"]
    assert names("since=mid") == ["new"]
    assert names("since=old", "before=new") == ["mid"]
    assert names("before=old") == []


def test_before_resolve_errors_propagate():
    def resolve(ref):
        raise NotFound(f"No such image: {ref}")

    f = parse_filters(["since=nope"], IMAGE_FILTERS)
    with pytest.raises(NotFound):
        match_image(img(), f, resolve=resolve)


def test_label_filters_are_anded():
    i = img(labels={"a": "1", "b": "2"})
    ok = parse_filters(["label=a", "label=b=2"], IMAGE_FILTERS)
    bad = parse_filters(["label=a", "label=c"], IMAGE_FILTERS)
    assert match_image(i, ok, resolve=_no_resolve)
    assert not match_image(i, bad, resolve=_no_resolve)


def test_reference_values_are_ored_and_keys_anded():
    i = img(tags=["busybox:latest", "web:1"], labels={"a": "1"})
    assert match_image(i, parse_filters(["reference=nope", "reference=web"], IMAGE_FILTERS),
                       resolve=_no_resolve)  # fmt: skip
    both = parse_filters(["reference=busy*", "label=a=2"], IMAGE_FILTERS)
    assert not match_image(i, both, resolve=_no_resolve)
    assert not match_image(img(), parse_filters(["reference=*"], IMAGE_FILTERS),
                           resolve=_no_resolve)  # fmt: skip


def test_until_keeps_images_created_before():
    f = parse_filters(["until=1h"], IMAGE_FILTERS)
    assert match_image(img(created=NOW - 7200), f, resolve=_no_resolve, now=NOW)
    assert not match_image(img(created=NOW - 60), f, resolve=_no_resolve, now=NOW)
    when = datetime.fromtimestamp(NOW, UTC) - timedelta(days=1)
    g = parse_filters([f"until={when:%Y-%m-%dT%H:%M:%SZ}"], IMAGE_FILTERS)
    assert match_image(img(created=NOW - 2 * 86400), g, resolve=_no_resolve)
    assert not match_image(img(created=NOW), g, resolve=_no_resolve)


def test_no_filters_match_everything():
    assert match_image(img(), Filters(), resolve=_no_resolve)
