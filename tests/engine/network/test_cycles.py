"""100 create/start/rm cycles on the default bridge leave nothing on the host."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from engine.network import netlink
from engine.runtime.options import CreateOptions
from tests.engine.network.conftest import free_port, networks, wait_clean
from tests.engine.runtime.conftest import IMAGE

CYCLES = 100


def host_addresses_in(subnets: list[str]) -> list[str]:
    nets = [ipaddress.ip_network(s) for s in subnets]
    with netlink.session() as ipr:
        addrs = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET)]
    return [a for a in addrs if any(ipaddress.ip_address(a) in n for n in nets)]


@pytest.mark.slow
def test_create_start_rm_cycles_leave_nothing(croot) -> None:
    from engine import Engine

    port = free_port()
    cids = []
    with Engine(str(croot)) as eng:
        for i in range(CYCLES):
            # alternate who releases the network: the monitor's hook after the final
            # exit, or `rm -f` of a running container; every 4th publishes a port
            publish = (f"127.0.0.1:{port}:80",) if i % 4 == 0 else ()
            cmd = ("true",) if i % 2 else ("sleep", "30")
            cid = eng.create(CreateOptions(image=IMAGE, command=cmd, publish=publish))
            cids.append(cid)
            eng.start(cid)
            if i % 2:
                eng.container_store.wait(cid)
            eng.remove_container(cid, force=True)
        subnets = [r["subnet"] for r in eng.store.db.query("SELECT subnet FROM networks")]
    assert [b for _, b in networks(croot)]  # the default network was used
    assert wait_clean(croot, cids) == {}  # no veth, netns, rows, bridge or rule
    assert host_addresses_in(subnets) == []
