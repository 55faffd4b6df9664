"""The bridge driver: the default ``bridge`` network and user networks.

Per container (``attach``): a netns pinned at ``/run/dockyard/netns/<id>``,
one veth pair per network (``vethXXXXXXX`` on the network's Linux bridge,
``ethN`` inside), an address from the network's subnet, a default route
via the first network's gateway, and host ports checked and reserved for
the monitor's userland proxy.  Per network, while it has endpoints: the
Linux bridge holding the gateway address and its iptables rules (NAT out,
forwarding); when the last endpoint leaves, a reaper (:mod:`.reaper`) takes
them down a couple of seconds later unless a new endpoint came, so nothing
stays on the host once no container uses the network (netavark deletes at
once; the delay spares a burst of short containers ~80 ms each).

Order makes ``detach`` safe after any partial ``attach``: rows are written
before the kernel objects they name are made, and deleted after them, all
under the host-wide :func:`network_lock`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Sequence

from ..errors import Conflict, InvalidArgument, NotFound, StartFailed
from ..images.digest import sha256_hex
from ..store import Store
from ..store.events import emit
from . import (
    Attachment,
    AttachRequest,
    PortMapping,
    etcfiles,
    firewall,
    ipam,
    netlink,
    ports,
    reaper,
)
from .hostsync import HostsSync
from .lock import network_lock
from .networks import DEFAULT, Network, Networks

__all__ = ["BridgeDriver", "bridge_down", "network_lock"]


def veth_name(cid: str, network_id: str) -> str:
    return "veth" + sha256_hex(f"{cid}{network_id}".encode())[:7]


def bridge_down(net: Network, ipr=None) -> None:  # noqa: ANN001
    if ipr is None:
        with netlink.session() as ipr:
            netlink.delete_link(ipr, net.bridge)
    else:
        netlink.delete_link(ipr, net.bridge)
    firewall.remove(net.id, net.bridge, net.subnet, net.internal)


class BridgeDriver:
    def __init__(self, store: Store, *, linger: bool = True) -> None:
        self.linger = linger  # idle bridges go down a little later (see reaper.py)
        self.store = store
        self.db = store.db
        self.nets = Networks(store)
        self.hosts = HostsSync(store)

    # -- NetworkDriver ------------------------------------------------------
    def attach(self, req: AttachRequest) -> Attachment:
        if req.network.startswith("container:"):
            return self._join(req)
        try:
            nets = self.nets.for_container(req.cid, req.network, list(req.aliases))
        except NotFound as e:  # Docker refuses the run (125), not a missing object (1)
            raise StartFailed(str(e), exit_code=125) from None
        if req.aliases and not (nets and nets[0][0].user_defined):
            raise InvalidArgument("network-scoped aliases are only supported for "
                                  "user-defined networks")
        specs = ports.parse_all(req.publish, req.exposed, req.publish_all)
        eid = os.urandom(32).hex()
        with network_lock():
            self._release(req.cid)  # a stale attachment (a crash) goes first
            published = self._reserve_ports(req.name, eid, specs)  # may refuse: nothing made yet
            try:
                return self._attach(req, nets, published, eid)
            except BaseException:
                self._release(req.cid, gc=[n.id for n, _ in nets])
                raise

    def validate(self, network: str, aliases: Sequence[str] = (), publish: Sequence[str] = (),
                 publish_all: bool = False) -> None:
        """What Docker refuses when the container is created (exit 125), so that
        ``create`` can refuse it too instead of leaving a container that cannot start."""
        if network.startswith("container:"):
            if publish or publish_all:
                raise InvalidArgument("conflicting options: port publishing and the "
                                      "container type network mode")
            self.hosts.container(network.split(":", 1)[1])
            return
        try:
            net = self.nets.get(network)
        except NotFound as e:
            raise InvalidArgument(str(e)) from None
        if aliases and not net.user_defined:
            raise InvalidArgument("network-scoped aliases are only supported for "
                                  "user-defined networks")
        ports.parse_all(publish)

    def detach(self, cid: str, token: str = "") -> None:
        if not self.attached(cid):
            return  # the common no-op: no lock, no netlink
        with network_lock():
            if token and self._token(cid) != token:
                return  # released already, and maybe attached again since
            self._release(cid)

    def _token(self, cid: str) -> str:
        """The current attachment's token: when its sandbox was made."""
        row = self.db.one("SELECT created FROM sandboxes WHERE container_id = ?", (cid,))
        return repr(float(row["created"])) if row else ""

    def attached(self, cid: str) -> bool:
        return bool(self.db.one("SELECT 1 FROM sandboxes WHERE container_id = ?", (cid,))) \
            or os.path.exists(self.netns_path(cid))

    @staticmethod
    def netns_path(cid: str) -> str:
        return os.path.join(netlink.NETNS_DIR, cid)

    # -- attach -------------------------------------------------------------
    def _attach(self, req: AttachRequest, nets: list[tuple[Network, list[str]]],
                published: list[PortMapping], eid: str) -> Attachment:
        path = self.netns_path(req.cid)
        with netlink.session() as ipr:
            nets = [(self._bridge_up(ipr, n), a) for n, a in nets]
            eps = self._record(req.cid, path, nets, published, eid)
            netlink.create_netns(path)
            with netlink.session(path) as ns:
                netlink.lo_up(ns)
                for i, (net, ep) in enumerate(eps):
                    netlink.delete_link(ipr, ep["veth"])  # left by a netns still going away
                    netlink.add_veth(ipr, ep["veth"], net.bridge, path, ep["ifname"], ep["mac"])
                    gateway = net.gateway if i == 0 and not net.internal else None
                    netlink.configure_inside(ns, ep["ifname"], ep["ip"], net.prefixlen, gateway)
            v4 = [(p.host_ip, p.host_port, p.protocol, p.container_port) for p in published
                  if ":" not in p.host_ip]
            if v4 and eps and not eps[0][0].internal:  # the kernel's fast path (firewall.py)
                net, ep = eps[0]
                firewall.add_ports(net.id, req.cid, net.bridge, ep["ip"], v4)
        self.hosts.refresh([n.id for n, _ in nets if n.user_defined], skip=req.cid)
        ip = eps[0][1]["ip"] if eps else ""
        unpublished = {(int(p), (t or "tcp")) for p, _, t in (e.partition("/")
                                                              for e in req.exposed)}
        unpublished -= {(p.container_port, p.protocol) for p in published}
        exposed = [PortMapping("", 0, p, t) for p, t in sorted(unpublished)]
        proxy = [{"proto": p.protocol, "host_ip": p.host_ip, "host_port": p.host_port,
                  "ip": ip, "port": p.container_port} for p in published]
        return Attachment(
            netns=path, hosts=self.hosts.content(req.cid, req.hostname),
            resolv_conf=etcfiles.resolv_conf(), ip=ip,
            gateway=eps[0][0].gateway if eps else "", ports=(*published, *exposed),
            extra={"networks": {net.name: _settings(net, ep) for net, ep in eps},
                   "proxy": {"endpoint": f"{req.name} ({eid})", "mappings": proxy}},
            token=self._token(req.cid))

    def _record(self, cid: str, path: str, nets: list[tuple[Network, list[str]]],
                published: list[PortMapping], eid: str) -> list[tuple[Network, dict]]:
        eps = []
        with self.db.write() as c:
            c.execute("INSERT INTO sandboxes (container_id, netns, joined, created) "
                      "VALUES (?, ?, '', ?)", (cid, path, time.time()))
            for i, (net, aliases) in enumerate(nets):
                ep = self._new_endpoint(c, cid, net, f"eth{i}", aliases,
                                        eid if i == 0 else os.urandom(32).hex())
                eps.append((net, ep))
            for p in published:
                c.execute("INSERT INTO port_bindings (container_id, host_ip, host_port, proto, "
                          "container_port) VALUES (?, ?, ?, ?, ?)",
                          (cid, p.host_ip, p.host_port, p.protocol, p.container_port))
        return eps

    @staticmethod
    def _new_endpoint(c, cid: str, net: Network, ifname: str, aliases: list[str],  # noqa: ANN001
                      eid: str) -> dict:
        used = [r[0] for r in c.execute("SELECT ip FROM endpoints WHERE network_id = ?",
                                        (net.id,))]
        ip = ipam.allocate(ipaddress.IPv4Network(net.subnet), net.gateway, used)
        ep = {"id": eid, "ifname": ifname, "veth": veth_name(cid, net.id), "ip": ip,
              "mac": ipam.mac_for(ip), "aliases": aliases}
        c.execute("INSERT INTO endpoints (network_id, container_id, id, ifname, veth, ip, mac, "
                  "aliases) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (net.id, cid, eid, ifname, ep["veth"], ip, ep["mac"], json.dumps(aliases)))
        emit(c, "network", "connect", net.id, container=cid, name=net.name)
        return ep

    def _bridge_up(self, ipr, net: Network) -> Network:  # noqa: ANN001
        if netlink.index(ipr, net.bridge) is not None:
            return net
        taken = netlink.host_networks()
        if ipam.overlaps(ipaddress.IPv4Network(net.subnet), taken):
            if not net.auto:
                raise Conflict(f"network {net.name}: subnet {net.subnet} overlaps a route of "
                               "this host")
            net = self.nets.move_subnet(net, taken)
        netlink.ensure_bridge(ipr, net.bridge, net.gateway, net.prefixlen)
        firewall.add(net.id, net.bridge, net.subnet, net.internal)
        return net

    def _reserve_ports(self, name: str, eid: str, specs: list[ports.PortSpec]
                       ) -> list[PortMapping]:
        if not specs:
            return []
        # a container that has exited for good since it was attached (its monitor
        # is done: not about to restart it) holds its ports only until that
        # monitor's release runs: that release may as well be now
        for r in self.db.query(
                "SELECT DISTINCT p.container_id FROM port_bindings p "
                "JOIN sandboxes s ON s.container_id = p.container_id "
                "JOIN containers c ON c.id = p.container_id "
                "WHERE c.state IN ('exited', 'dead') AND c.monitor_pid = 0 "
                "AND c.finished_at >= s.created"):
            self._release(r["container_id"])
        taken = [(r["host_ip"], r["host_port"], r["proto"])
                 for r in self.db.query("SELECT host_ip, host_port, proto FROM port_bindings")]
        return ports.reserve(specs, taken, f"driver failed programming external "
                             f"connectivity on endpoint {name} ({eid})")

    def _join(self, req: AttachRequest) -> Attachment:
        """``--network container:NAME``: the other container's netns and files."""
        if req.publish or req.publish_all:
            raise InvalidArgument("conflicting options: port publishing and the container "
                                  "type network mode")
        tid, row = self.hosts.container(req.network.split(":", 1)[1])
        if tid == req.cid:
            raise InvalidArgument("cannot join own network namespace")
        if row["state"] not in ("running", "paused") or not row["pid"]:
            raise Conflict(f"cannot join network of a non running container: {tid}")
        netns = f"/proc/{row['pid']}/ns/net"
        with network_lock():
            self._release(req.cid)
            with self.db.write() as c:
                c.execute("INSERT INTO sandboxes (container_id, netns, joined, created) "
                          "VALUES (?, ?, ?, ?)", (req.cid, netns, tid, time.time()))
        d = self.store.path("containers", tid)
        return Attachment(netns=netns, hosts=etcfiles.read_text(os.path.join(d, "hosts")),
                          resolv_conf=etcfiles.read_text(os.path.join(d, "resolv.conf")),
                          extra={"joined": tid}, token=self._token(req.cid))

    # -- detach -------------------------------------------------------------
    def _release(self, cid: str, gc: list[str] | tuple[str, ...] = ()) -> None:
        """Remove all ``cid``'s attachment (idempotent; caller holds the lock)."""
        sb = self.db.one("SELECT * FROM sandboxes WHERE container_id = ?", (cid,))
        eps = self.db.query("SELECT * FROM endpoints WHERE container_id = ?", (cid,))
        own = self.netns_path(cid)
        affected = list(dict.fromkeys([*(e["network_id"] for e in eps), *gc]))
        if not (eps or affected):  # no kernel objects but maybe the netns: no netlink
            if os.path.exists(own):
                netlink.remove_netns(own)
            if sb:
                with self.db.write() as c:
                    c.execute("DELETE FROM sandboxes WHERE container_id = ?", (cid,))
            return
        if self.db.one("SELECT 1 FROM port_bindings WHERE container_id = ?", (cid,)):
            firewall.remove_ports(cid)
        joined = self.db.one("SELECT 1 FROM sandboxes WHERE joined = ?", (cid,))
        with netlink.session() as ipr:
            if joined or not os.path.exists(own):  # the netns outlives us: unplug by hand
                for e in eps:
                    netlink.delete_link(ipr, e["veth"])
            # else the kernel deletes the veth pairs with the netns, in the background:
            # deleting one here waits ~18 ms for the network stack to settle
            netlink.remove_netns(own)
            with self.db.write() as c:
                c.execute("DELETE FROM sandboxes WHERE container_id = ?", (cid,))
                for e in eps:
                    emit(c, "network", "disconnect", e["network_id"], container=cid)
            self._settle(ipr, affected)

    def _settle(self, ipr, network_ids: list[str]) -> None:  # noqa: ANN001
        """Take down the networks left without endpoints; refresh names on the rest."""
        busy = []
        for nid in network_ids:
            try:
                net = self.nets.by_id(nid)
            except NotFound:
                continue
            if self.nets.endpoint_count(nid):
                busy.append(nid)
            elif self.linger:
                reaper.spawn(self.store.root, net.id, net.bridge, net.subnet, net.internal)
            else:
                bridge_down(net, ipr)
        self.hosts.refresh([n for n in busy if self.nets.by_id(n).name != DEFAULT])

    # -- connect / disconnect (network connect|disconnect) -------------------
    def connect(self, network_ref: str, container_ref: str, aliases: list[str]) -> None:
        cid, row = self.hosts.container(container_ref)
        host = json.loads(row["host_config"])
        mode = host.get("NetworkMode") or DEFAULT
        if mode in ("host", "none") or mode.startswith("container:"):
            raise Conflict(f"container sharing network namespace with another container or "
                           f"host cannot be connected to any other network ({mode})")
        net = self.nets.get(network_ref)
        current = self.nets.for_container(cid, mode, host.get("NetworkAliases") or [])
        if any(n.id == net.id for n, _ in current):
            raise Conflict(f"endpoint with name {row['name']} already exists in network "
                           f"{net.name}")
        if aliases and not net.user_defined:
            raise InvalidArgument("network-scoped aliases are only supported for "
                                  "user-defined networks")
        with network_lock():
            with self.db.write() as c:
                c.execute("INSERT OR REPLACE INTO container_networks (container_id, network_id, "
                          "aliases, connected) VALUES (?, ?, ?, 1)",
                          (cid, net.id, json.dumps(aliases)))
            sb = self.db.one("SELECT * FROM sandboxes WHERE container_id = ? AND joined = ''",
                             (cid,))
            if sb is not None:
                try:
                    self._plug(cid, sb["netns"], net, aliases)
                except BaseException:
                    with self.db.write() as c:
                        c.execute("DELETE FROM container_networks WHERE container_id = ? AND "
                                  "network_id = ?", (cid, net.id))
                    raise

    def _plug(self, cid: str, netns: str, net: Network, aliases: list[str]) -> None:
        names = {r["ifname"] for r in self.db.query(
            "SELECT ifname FROM endpoints WHERE container_id = ?", (cid,))}
        ifname = next(f"eth{i}" for i in range(len(names) + 1) if f"eth{i}" not in names)
        with netlink.session() as ipr:
            try:
                net = self._bridge_up(ipr, net)
                with self.db.write() as c:
                    ep = self._new_endpoint(c, cid, net, ifname, aliases, os.urandom(32).hex())
                netlink.add_veth(ipr, ep["veth"], net.bridge, netns, ifname, ep["mac"])
                # the first network of a container that has none gives it its default route
                gateway = None if names or net.internal else net.gateway
                with netlink.session(netns) as ns:
                    netlink.configure_inside(ns, ifname, ep["ip"], net.prefixlen, gateway)
            except BaseException:
                self._unplug(ipr, cid, net)
                raise
        self.hosts.refresh_container(cid)

    def _unplug(self, ipr, cid: str, net: Network) -> None:  # noqa: ANN001
        netlink.delete_link(ipr, veth_name(cid, net.id))
        with self.db.write() as c:
            c.execute("DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                      (cid, net.id))
            emit(c, "network", "disconnect", net.id, container=cid)
        self._settle(ipr, [net.id])

    def disconnect(self, network_ref: str, container_ref: str) -> None:
        cid, row = self.hosts.container(container_ref)
        host = json.loads(row["host_config"])
        mode = host.get("NetworkMode") or DEFAULT
        net = self.nets.get(network_ref)
        current = self.nets.for_container(cid, mode, host.get("NetworkAliases") or [])
        if all(n.id != net.id for n, _ in current):
            raise Conflict(f"container {cid} is not connected to network {net.name}")
        primary = mode not in ("host", "none") and not mode.startswith("container:") and \
            self.nets.get(mode).id == net.id
        with network_lock():
            if self.db.one("SELECT 1 FROM endpoints WHERE container_id = ? AND network_id = ?",
                           (cid, net.id)):
                with netlink.session() as ipr:
                    self._unplug(ipr, cid, net)
            with self.db.write() as c:
                if primary:
                    c.execute("INSERT OR REPLACE INTO container_networks (container_id, "
                              "network_id, aliases, connected) VALUES (?, ?, '[]', 0)",
                              (cid, net.id))
                else:
                    c.execute("DELETE FROM container_networks WHERE container_id = ? AND "
                              "network_id = ?", (cid, net.id))
            self.hosts.refresh_container(cid)


def _settings(net: Network, ep: dict) -> dict:
    """One entry of inspect's NetworkSettings.Networks."""
    return {"NetworkID": net.id, "EndpointID": ep["id"], "Gateway": net.gateway,
            "IPAddress": ep["ip"], "IPPrefixLen": net.prefixlen, "MacAddress": ep["mac"],
            "Aliases": ep["aliases"] or None}
