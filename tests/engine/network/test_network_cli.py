"""``dockyard network …``: Docker's output and errors."""

from __future__ import annotations

import json

from tests.conftest import dockyard


def test_create_ls_inspect_rm(root) -> None:
    nid = dockyard(root, "network", "create", "--subnet", "10.214.0.0/24", "--gateway",
                   "10.214.0.254", "--label", "team=a", "front").stdout.decode().strip()
    assert len(nid) == 64
    dockyard(root, "network", "create", "--internal", "back")
    out = dockyard(root, "network", "ls").stdout.decode().splitlines()
    assert out[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1:] for line in out[1:]] == [
        ["back", "bridge", "local"], ["bridge", "bridge", "local"],
        ["front", "bridge", "local"], ["host", "host", "local"], ["none", "null", "local"]]
    assert f"{nid[:12]}   front" in "\n".join(out)
    names = dockyard(root, "network", "ls", "--filter", "type=custom", "--format",
                     "{{.Name}}").stdout
    assert names == b"back\nfront\n"
    assert dockyard(root, "network", "ls", "-q", "--no-trunc", "-f",
                    "label=team=a").stdout.decode() == nid + "\n"
    doc = json.loads(dockyard(root, "network", "inspect", "front").stdout)[0]
    assert (doc["Name"], doc["Id"], doc["Driver"], doc["Internal"]) == ("front", nid, "bridge",
                                                                      False)
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.214.0.0/24", "Gateway": "10.214.0.254"}]
    assert doc["Options"]["com.docker.network.bridge.name"] == f"br-{nid[:12]}"
    assert doc["Labels"] == {"team": "a"} and doc["Containers"] == {}
    assert dockyard(root, "network", "inspect", "-f", "{{.Internal}}", "back").stdout == \
        b"true\n"
    bridge = json.loads(dockyard(root, "network", "inspect", "bridge").stdout)[0]
    assert bridge["IPAM"]["Config"][0]["Subnet"].endswith("/16")
    back = dockyard(root, "network", "ls", "-q", "-f", "name=back").stdout.decode().strip()
    assert dockyard(root, "network", "rm", "front", back[:6]).stdout.decode() == \
        f"front\n{back[:6]}\n"
    r = dockyard(root, "network", "rm", "front", check=False)
    assert (r.returncode, r.stderr) == (1, b"Error response from daemon: network front not "
                                        b"found\n")
    assert dockyard(root, "network", "ls", "-q").stdout.count(b"\n") == 3


def test_errors(root) -> None:
    dockyard(root, "network", "create", "dup")
    cases = [
        (("network", "create", "dup"), "network with name dup already exists"),
        (("network", "create", "host"), "operation is not permitted on predefined host "
                                        "network"),
        (("network", "create", "-d", "overlay", "x"), 'plugin "overlay" not found'),
        (("network", "create", "--subnet", "10.215.0.0/16", "--gateway", "10.216.0.1", "x"),
         "no matching subnet for gateway 10.216.0.1"),
        (("network", "create", "--gateway", "10.0.0.1", "x"),
         "every ip-range or gateway must have a corresponding subnet"),
        (("network", "create", "--subnet", "bogus", "x"), "invalid CIDR address: bogus"),
        (("network", "rm", "bridge"), "bridge is a pre-defined network and cannot be removed"),
        (("network", "rm", "nope"), "network nope not found"),
        (("network", "inspect", "nope"), "network nope not found"),
    ]
    for args, msg in cases:
        r = dockyard(root, *args, check=False)
        assert r.returncode == 1, args
        assert r.stderr.decode() == f"Error response from daemon: {msg}\n", args
    dockyard(root, "network", "create", "--subnet", "10.217.0.0/16", "taken")
    r = dockyard(root, "network", "create", "--subnet", "10.217.128.0/17", "overlap",
                 check=False)
    assert b"Pool overlaps with other one on this address space" in r.stderr
    r = dockyard(root, "network", "inspect", "-f", "{{.Name}}", "nope", "bridge", "gone",
                 check=False)
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"bridge\n", b"Error response from daemon: network nope not found\n"
                        b"Error response from daemon: network gone not found\n")
    assert dockyard(root, "network", "rm", "-f", "nope").returncode == 0


def test_prune_keeps_the_default_and_used_networks(root) -> None:
    for name in ("p1", "p2"):
        dockyard(root, "network", "create", name)
    out = dockyard(root, "network", "prune", "-f").stdout.decode()
    assert out == "Deleted Networks:\np1\np2\n\n"
    assert dockyard(root, "network", "prune", "-f").stdout == b""
    assert dockyard(root, "network", "ls", "--format", "{{.Name}}").stdout == \
        b"bridge\nhost\nnone\n"
    r = dockyard(root, "network", "prune", input=b"n\n")
    assert r.stdout.startswith(b"WARNING! This will remove all custom networks not used by "
                               b"at least one container.\nAre you sure you want to continue? "
                               b"[y/N]")
