"""engine.registry.session: what pull and push share (connection, abort, progress)."""

from __future__ import annotations

import threading

from engine.progress import Progress
from engine.registry import AuthEntry
from engine.registry.credentials import DockerConfig
from engine.registry.session import MIN_REPORT_STEP, Either, connect, throttled


def test_connect_takes_config_json_unless_given_credentials(docker_config) -> None:
    DockerConfig().store("127.0.0.1:5000", AuthEntry("user", "from-config"))
    with connect("127.0.0.1:5000", credentials=None, tls_verify=True) as reg:
        assert reg.auth.entry == AuthEntry("user", "from-config")
        assert (reg.domain, reg.scheme, reg.tls_verify) == ("127.0.0.1:5000", "http", True)
    other = DockerConfig(str(docker_config.parent / "other"))
    other.store("127.0.0.1:5000", AuthEntry("user", "given"))
    with connect("127.0.0.1:5000", credentials=other, tls_verify=False) as reg:
        assert reg.auth.entry == AuthEntry("user", "given")
        assert reg.tls_verify is False


def test_either_is_set_by_us_or_by_the_callers_event() -> None:
    cancel = threading.Event()
    abort = Either(cancel)
    assert not abort.is_set()
    cancel.set()
    assert abort.is_set()
    mine = Either(None)
    assert not mine.is_set()
    mine.set()
    assert mine.is_set()


def test_throttled_reports_every_percent_and_the_end() -> None:
    seen: list[Progress] = []
    total = 200 * MIN_REPORT_STEP
    fn = throttled(seen.append, "abc", "Downloading", total)
    step = total // 100
    for n in (0, step // 2, step, step + 1, 2 * step, 3 * step - 1, total - 1, total):
        fn(n)
    assert [p.current for p in seen] == [0, step, 2 * step, total - 1, total]
    assert {(p.id, p.status, p.total) for p in seen} == {("abc", "Downloading", total)}
    small: list[Progress] = []
    fn = throttled(small.append, "s", "Pushing", 1000)  # under one step: start and end only
    for n in (0, 10, 500, 1000):
        fn(n)
    assert [p.current for p in small] == [0, 1000]
    throttled(None, "x", "Extracting", 10)(10)  # no progress function: nothing to call
