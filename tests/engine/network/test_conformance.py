"""The NetworkDriver contract (engine/network/__init__.py), run against every
implementation: attach makes a working netns, detach removes all of it and is
idempotent — twice, for an unknown container, and after a partial attach."""

from __future__ import annotations

import os
import secrets
import socket

import pytest

from engine.errors import StartFailed
from engine.network import AttachRequest, netlink
from engine.network.bridge import BridgeDriver
from tests.engine.network.conftest import free_port, wait_clean


def bridge_driver(store):  # noqa: ANN001, ANN201
    return BridgeDriver(store, linger=False)  # synchronous teardown: assertable at once


@pytest.fixture(params=[bridge_driver], ids=["bridge"])
def driver(request, engine):  # noqa: ANN001, ANN201
    drv = request.param(engine.store)
    made: list[str] = []
    drv.made = made
    yield drv
    for cid in made:
        drv.detach(cid)


def request_for(drv, **kw) -> AttachRequest:  # noqa: ANN001
    cid = secrets.token_hex(32)
    drv.made.append(cid)
    return AttachRequest(cid=cid, name=kw.pop("name", "c" + cid[:6]), hostname=cid[:12],
                         network=kw.pop("network", "bridge"), **kw)


def inside(netns: str) -> tuple[list[str], list[str]]:
    """(IPv4 addresses, default gateways) seen inside a netns."""
    with netlink.session(netns) as ns:
        addrs = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                 for a in ns.get_addr(family=socket.AF_INET)]
        gws = [r.get_attr("RTA_GATEWAY") for r in ns.get_routes(family=socket.AF_INET)
               if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")]
    return addrs, gws


def test_attach_makes_a_connected_netns(driver, root) -> None:
    req = request_for(driver)
    att = driver.attach(req)
    assert os.path.exists(att.netns)
    addrs, gws = inside(att.netns)
    assert "127.0.0.1/8" in addrs
    assert f"{att.ip}/16" in addrs and gws == [att.gateway]
    assert f"{att.ip}\t{req.hostname}\n" in att.hosts
    assert "nameserver" in att.resolv_conf and "127.0.0." not in att.resolv_conf
    # the host reaches the container's address over the bridge
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((att.ip, 9)) in (111, 0)  # refused: nothing listens, but it got there
    driver.detach(req.cid)
    assert wait_clean(root, [req.cid]) == {}


def test_detach_is_idempotent(driver, root) -> None:
    req = request_for(driver)
    driver.attach(req)
    driver.detach(req.cid)
    driver.detach(req.cid)
    driver.detach(secrets.token_hex(32))  # never attached
    assert wait_clean(root, [req.cid]) == {}


def test_detach_after_a_partial_attach(driver, root, monkeypatch) -> None:
    req = request_for(driver, publish=["127.0.0.1::80"])

    def boom(*a, **k):  # noqa: ANN002, ANN003
        raise OSError("injected failure after the netns and rows exist")

    monkeypatch.setattr(netlink, "configure_inside", boom)
    with pytest.raises(OSError, match="injected"):
        driver.attach(req)
    assert wait_clean(root, [req.cid]) == {}  # attach cleaned up after itself
    driver.detach(req.cid)
    assert wait_clean(root, [req.cid]) == {}


def test_attach_again_replaces_a_stale_attachment(driver, root) -> None:
    req = request_for(driver)
    first = driver.attach(req)
    second = driver.attach(req)  # as after a crash that skipped detach
    assert first.netns == second.netns and inside(second.netns)[0].count(
        f"{second.ip}/16") == 1
    driver.detach(req.cid)
    assert wait_clean(root, [req.cid]) == {}


def test_port_conflict_leaves_nothing_half_made(driver, root) -> None:
    port = free_port()
    a = request_for(driver, publish=[f"{port}:80"])
    att = driver.attach(a)
    assert [str(p) for p in att.ports] == [f"0.0.0.0:{port}->80/tcp", f":::{port}->80/tcp"]
    b = request_for(driver, name="second", publish=[f"127.0.0.1:{port}:81"])
    with pytest.raises(StartFailed) as e:
        driver.attach(b)
    assert str(e.value).startswith("driver failed programming external connectivity on "
                                   "endpoint second (")
    assert str(e.value).endswith(f"Bind for 127.0.0.1:{port} failed: port is already allocated")
    assert e.value.exit_code == 125
    assert not os.path.exists(driver.netns_path(b.cid))
    driver.detach(a.cid)
    assert wait_clean(root, [a.cid, b.cid]) == {}
