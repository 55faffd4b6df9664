"""The pure parts of networking: -p grammar, PORTS column, IPAM, etc files, rules."""

from __future__ import annotations

import ipaddress

import pytest

from engine.errors import Conflict, InvalidArgument
from engine.network import PortMapping, etcfiles, firewall, ipam, ports
from engine.network.ports import PortSpec, parse_spec


@pytest.mark.parametrize(("raw", "want"), [
    ("80", [PortSpec(80, "tcp", "", (0, 0))]),
    ("8080:80", [PortSpec(80, "tcp", "", (8080, 8080))]),
    ("127.0.0.1:8080:80/udp", [PortSpec(80, "udp", "127.0.0.1", (8080, 8080))]),
    ("127.0.0.1::80", [PortSpec(80, "tcp", "127.0.0.1", (0, 0))]),
    ("[::1]:8080:80", [PortSpec(80, "tcp", "::1", (8080, 8080))]),
    ("8000-8001:80-81/TCP", [PortSpec(80, "tcp", "", (8000, 8000)),
                             PortSpec(81, "tcp", "", (8001, 8001))]),
    ("8000-8010:80", [PortSpec(80, "tcp", "", (8000, 8010))]),
    ("80-81", [PortSpec(80, "tcp", "", (0, 0)), PortSpec(81, "tcp", "", (0, 0))]),
])
def test_parse_publish(raw: str, want: list[PortSpec]) -> None:
    assert parse_spec(raw) == want


@pytest.mark.parametrize(("raw", "error"), [
    ("abc", "invalid containerPort: abc"),
    ("x:80", "invalid hostPort: x"),
    ("1.2.3.400:80:80", "invalid IP address: 1.2.3.400"),
    ("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and "
                        "8000-8001"),
    ("80/foo", "invalid proto: foo"),
    ("8080:", "no port specified: 8080:<empty>"),
    ("70000", "invalid containerPort: 70000"),
])
def test_parse_publish_errors(raw: str, error: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        parse_spec(raw)
    assert str(e.value) == error


def test_publish_all_adds_exposed_ports_once() -> None:
    specs = ports.parse_all(["8080:80"], ["80/tcp", "53/udp", "443"], publish_all=True)
    assert [(s.container_port, s.proto, s.host_ports) for s in specs] == [
        (80, "tcp", (8080, 8080)), (53, "udp", (0, 0)), (443, "tcp", (0, 0))]


def test_ports_column_as_docker_prints_it() -> None:
    entries = [str(p) for p in (
        PortMapping("0.0.0.0", 8080, 80), PortMapping("::", 8080, 80),
        PortMapping("0.0.0.0", 90, 90, "udp"), PortMapping("0.0.0.0", 91, 91, "udp"),
        PortMapping("", 0, 443), PortMapping("", 0, 444), PortMapping("", 0, 9000))]
    # docker/cli's order: a broken run is written at once, open runs at the end
    assert ports.display(entries) == (
        "443-444/tcp, 0.0.0.0:90-91->90-91/udp, 9000/tcp, "
        "0.0.0.0:8080->80/tcp, :::8080->80/tcp")
    assert ports.display([]) == ""
    assert str(PortMapping("", 0, 80)) == "80/tcp"


def test_port_command_lines() -> None:
    maps = [PortMapping("::", 8080, 80), PortMapping("0.0.0.0", 8080, 80),
            PortMapping("127.0.0.1", 5353, 53, "udp"), PortMapping("", 0, 22)]
    assert ports.port_lines(maps) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080",
                                      "80/tcp -> [::]:8080"]
    assert ports.port_lines(maps, "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert ports.port_lines(maps, "53/udp") == ["127.0.0.1:5353"]
    assert ports.port_lines(maps, "22") == []
    assert ports.parse_entry(":::8080->80/tcp") == PortMapping("::", 8080, 80)


def test_port_clashes_follow_dockers_allocator() -> None:
    taken = [("0.0.0.0", 8080, "tcp"), ("127.0.0.1", 9090, "tcp")]
    assert ports.clashes("127.0.0.1", 8080, "tcp", taken) == "0.0.0.0"
    assert ports.clashes("0.0.0.0", 9090, "tcp", taken) == "127.0.0.1"
    assert ports.clashes("0.0.0.0", 8080, "udp", taken) == ""
    assert ports.clashes("::", 8080, "tcp", taken) == ""  # another address family
    assert ports.clashes("127.0.0.2", 9090, "tcp", taken) == ""


def test_free_subnet_skips_routes_and_nameservers() -> None:
    assert str(ipam.free_subnet([])) == "172.17.0.0/16"
    taken = ["172.17.0.0/16", "172.18.5.0/24", "192.168.0.0/16"]
    assert str(ipam.free_subnet(taken)) == "172.19.0.0/16"
    every_172 = [f"172.{b}.0.0/16" for b in range(17, 32)]
    assert str(ipam.free_subnet(every_172, avoid=["10.0.0.53"])) == "10.1.0.0/16"
    with pytest.raises(Conflict):
        ipam.free_subnet(["0.0.0.0/1", "128.0.0.0/1"])


def test_allocate_gateway_and_mac() -> None:
    net = ipaddress.IPv4Network("10.9.0.0/29")
    gw = ipam.gateway_of(net)
    assert gw == "10.9.0.1"
    used: list[str] = []
    for _ in range(5):
        used.append(ipam.allocate(net, gw, used))
    assert used == ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
    with pytest.raises(Conflict):
        ipam.allocate(net, gw, used)
    assert ipam.allocate(net, gw, used[1:]) == "10.9.0.2"  # freed addresses come back
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway 10.8.0.1"):
        ipam.gateway_of(net, "10.8.0.1")
    with pytest.raises(InvalidArgument, match="invalid CIDR address"):
        ipam.parse_subnet("10.0.0.0/33")
    with pytest.raises(InvalidArgument, match="it should be 10.0.0.0/16"):
        ipam.parse_subnet("10.0.0.5/16")


def test_hosts_file() -> None:
    text = etcfiles.hosts([("172.18.0.2", "abc123")],
                          [("172.18.0.2", ["web", "www", "web", "abc123"]),
                           ("172.18.0.3", ["db", "0123456789ab"])])
    assert text.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert text.endswith("172.18.0.2\tabc123\n172.18.0.2\tweb www abc123\n"
                         "172.18.0.3\tdb 0123456789ab\n")


@pytest.mark.parametrize(("host", "want"), [
    ("nameserver 127.0.0.53\noptions edns0\nsearch lan\n",
     "options edns0\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
    ("# comment\nnameserver 10.0.0.2\nnameserver 127.0.0.1\nnameserver ::1\n",
     "# comment\nnameserver 10.0.0.2\n"),
    ("", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
])
def test_resolv_conf_drops_local_nameservers(tmp_path, monkeypatch, host: str,
                                              want: str) -> None:
    monkeypatch.setattr(etcfiles, "RESOLVED_UPSTREAM", str(tmp_path / "none"))
    (tmp_path / "resolv.conf").write_text(host)
    assert etcfiles.resolv_conf(str(tmp_path / "resolv.conf")) == want


def test_rewrite_in_place_keeps_the_inode(tmp_path) -> None:
    p = tmp_path / "hosts"
    p.write_text("a much longer first version\n")
    ino = p.stat().st_ino
    assert etcfiles.rewrite_in_place(str(p), "short\n")
    assert (p.read_text(), p.stat().st_ino) == ("short\n", ino)
    assert not etcfiles.rewrite_in_place(str(tmp_path / "missing"), "x")


def test_every_rule_is_tagged() -> None:
    nid, cid = "a" * 64, "b" * 64
    for tables in (firewall.rules(nid, "br-x", "172.30.0.0/16", False),
                   firewall.rules(nid, "br-x", "172.30.0.0/16", True),
                   firewall.port_rules(nid, cid, "br-x", "172.30.0.2",
                                       [("0.0.0.0", 8080, "tcp", 80),
                                        ("127.0.0.1", 53, "udp", 53)])):
        for lines in tables.values():
            for rule in lines:
                assert f'--comment "dockyard:{nid[:12]}' in rule
    rules = firewall.port_rules(nid, cid, "br-x", "172.30.0.2", [("127.0.0.1", 53, "udp", 53)])
    assert rules["nat"][1] == (
        "-A OUTPUT -p udp -d 127.0.0.1 -m udp --dport 53 -m addrtype --dst-type LOCAL "
        f'-m comment --comment "dockyard:{nid[:12]}:{cid[:12]}" -j DNAT '
        "--to-destination 172.30.0.2:53")


def test_inspect_network_settings(tmp_path) -> None:
    import json

    from engine.network.settings import network_settings

    (tmp_path / "network.json").write_text(json.dumps({
        "netns": "/run/dockyard/netns/x", "ip": "172.17.0.2",
        "ports": ["0.0.0.0:8080->80/tcp", ":::8080->80/tcp", "443/tcp"],
        "extra": {"networks": {"bridge": {
            "NetworkID": "n", "EndpointID": "e", "Gateway": "172.17.0.1",
            "IPAddress": "172.17.0.2", "IPPrefixLen": 16, "MacAddress": "02:42:ac:11:00:02",
            "Aliases": None}}}}))
    s = network_settings(str(tmp_path), {"NetworkMode": "bridge"}, running=True)
    assert s["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                                     {"HostIp": "::", "HostPort": "8080"}], "443/tcp": None}
    assert (s["IPAddress"], s["Gateway"], s["SandboxKey"]) == (
        "172.17.0.2", "172.17.0.1", "/run/dockyard/netns/x")
    assert s["Networks"]["bridge"]["EndpointID"] == "e"
    stopped = network_settings(str(tmp_path), {"NetworkMode": "mynet"}, running=False)
    assert (stopped["Ports"], list(stopped["Networks"]), stopped["IPAddress"]) == (
        {}, ["mynet"], "")


def test_validate_refuses_what_docker_refuses_at_create(engine) -> None:
    from engine.errors import NotFound
    from engine.network.bridge import BridgeDriver
    from engine.network.networks import Networks

    drv = BridgeDriver(engine.store)
    Networks(engine.store).create("mine", subnet="10.218.0.0/24")
    drv.validate("bridge", publish=["8080:80", "53/udp"])
    drv.validate("mine", aliases=["db"])
    with pytest.raises(InvalidArgument, match="^network nope not found$"):
        drv.validate("nope")
    with pytest.raises(InvalidArgument, match="only supported for user-defined networks"):
        drv.validate("bridge", aliases=["db"])
    with pytest.raises(InvalidArgument, match="invalid containerPort: x"):
        drv.validate("mine", publish=["x"])
    with pytest.raises(InvalidArgument, match="port publishing and the container type"):
        drv.validate("container:other", publish=["80"])
    with pytest.raises(NotFound, match="No such container: other"):
        drv.validate("container:other")
