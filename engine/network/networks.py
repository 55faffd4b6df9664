"""Network records: the default ``bridge``, user networks, and which
networks a container is configured for.

A network is a row (subnet, gateway, Linux bridge name); its kernel side
(:mod:`.bridge`) exists only while it has endpoints.  ``host`` and ``none``
are listed like Docker lists them but have no row: the runtime handles them.

A container's networks are ``HostConfig.NetworkMode`` plus the rows of
``container_networks``: ``network connect`` adds one (``connected=1``);
``network disconnect`` deletes it, or for the NetworkMode network records
``connected=0``.  Rows go with the container (ON DELETE CASCADE).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field

from ..errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from ..images.digest import sha256_hex
from ..store import DEFAULT_ROOT, Store
from ..store.events import emit
from . import ipam
from .lock import network_lock

DEFAULT = "bridge"
PREDEFINED = {"host": "host", "none": "null"}  # name → driver, no row
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class Network:
    """One network: a row of the networks table."""

    id: str
    name: str
    driver: str
    bridge: str
    subnet: str
    gateway: str
    auto: bool  # the engine chose the subnet, so it may move it to a free one
    internal: bool
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.split("/")[1])

    @property
    def user_defined(self) -> bool:  # where names resolve (Docker's embedded DNS)
        return self.name != DEFAULT


def _net(row) -> Network:  # noqa: ANN001
    return Network(row["id"], row["name"], row["driver"], row["bridge"], row["subnet"],
                   row["gateway"], bool(row["auto"]), bool(row["internal"]), row["created"],
                   json.loads(row["labels"]), json.loads(row["options"]))


def predefined_id(root: str, name: str) -> str:
    return sha256_hex(f"{root}\0{name}".encode())


class Networks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- lookups ------------------------------------------------------------
    def default(self) -> Network:
        row = self.db.one("SELECT * FROM networks WHERE name = ?", (DEFAULT,))
        if row is not None:
            return _net(row)
        root = self.store.root
        bridge = "dockyard0" if root == DEFAULT_ROOT else \
            "dy" + sha256_hex(root.encode())[:10]
        try:  # the host's routes are checked when the bridge comes up
            return self._insert(DEFAULT, bridge=bridge, subnet="", gateway="", internal=False,
                                labels={}, options={}, check_host=False, event=False)
        except AlreadyExists:  # another process made it first
            return self.get(DEFAULT)

    def get(self, ref: str) -> Network:
        if ref == "default":
            ref = DEFAULT
        if ref == DEFAULT:
            return self.default()
        row = self.db.one("SELECT * FROM networks WHERE name = ? OR id = ?", (ref, ref))
        if row is None and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.query("SELECT * FROM networks WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise Conflict(f"network {ref} is ambiguous ({len(rows)} matches found "
                               "based on ID prefix)")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"network {ref} not found")
        return _net(row)

    def by_id(self, network_id: str) -> Network:
        row = self.db.one("SELECT * FROM networks WHERE id = ?", (network_id,))
        if row is None:
            raise NotFound(f"network {network_id} not found")
        return _net(row)

    def all_networks(self) -> list[Network]:
        self.default()
        return [_net(r) for r in self.db.query("SELECT * FROM networks ORDER BY name")]

    def endpoint_count(self, network_id: str) -> int:
        row = self.db.one("SELECT COUNT(*) AS n FROM endpoints WHERE network_id = ?",
                          (network_id,))
        return int(row["n"]) if row else 0

    # -- create / remove ----------------------------------------------------
    def create(self, name: str, *, subnet: str = "", gateway: str = "", internal: bool = False,
               driver: str = "bridge", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> Network:
        if name in PREDEFINED:
            raise Conflict(f"operation is not permitted on predefined {name} network")
        if not NAME_RE.match(name):
            raise InvalidArgument(f"invalid network name {name!r}: only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if gateway and not subnet:
            raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
        if name == DEFAULT or self.db.one("SELECT 1 FROM networks WHERE name = ?", (name,)):
            raise AlreadyExists(f"network with name {name} already exists")
        nid = os.urandom(32).hex()
        bridge = (options or {}).get("com.docker.network.bridge.name") or f"br-{nid[:12]}"
        if len(bridge) > 15:
            raise InvalidArgument(f"bridge name {bridge!r} is longer than 15 characters")
        if self.db.one("SELECT 1 FROM networks WHERE bridge = ?", (bridge,)):
            raise Conflict(f"bridge name {bridge} is already used by another network")
        return self._insert(name, nid=nid, bridge=bridge, subnet=subnet, gateway=gateway,
                            internal=internal, labels=labels or {}, options=options or {},
                            check_host=True, event=True)

    def _insert(self, name: str, *, bridge: str, subnet: str, gateway: str, internal: bool,
                labels: dict[str, str], options: dict[str, str], check_host: bool,
                event: bool, nid: str = "") -> Network:
        nid = nid or os.urandom(32).hex()
        with network_lock():  # subnet choice must not race another create or bridge-up
            others = [r["subnet"] for r in self.db.query("SELECT subnet FROM networks")]
            if subnet:
                net = ipam.parse_subnet(subnet)
                if ipam.overlaps(net, others) or (check_host and ipam.overlaps(
                        net, _host_networks())):
                    raise Conflict("invalid pool request: Pool overlaps with other one on "
                                   "this address space")
            else:
                from .etcfiles import host_nameservers

                host = _host_networks() if check_host else []
                net = ipam.free_subnet(others + host, avoid=host_nameservers())
            gw = ipam.gateway_of(net, gateway)
            with self.db.write() as c:
                if c.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                    raise AlreadyExists(f"network with name {name} already exists")
                c.execute("INSERT INTO networks (id, name, driver, bridge, subnet, gateway, auto, "
                          "internal, created, labels, options) VALUES (?, ?, 'bridge', ?, ?, ?, "
                          "?, ?, ?, ?, ?)",
                          (nid, name, bridge, str(net), gw, int(not subnet), int(internal),
                           time.time(), json.dumps(labels), json.dumps(options)))
                if event:
                    emit(c, "network", "create", nid, name=name)
        return self.by_id(nid)

    def move_subnet(self, net: Network, taken: list[str]) -> Network:
        """Give an engine-chosen subnet that now collides a free one (no endpoints)."""
        from .etcfiles import host_nameservers

        others = [r["subnet"] for r in self.db.query(
            "SELECT subnet FROM networks WHERE id != ?", (net.id,))]
        new = ipam.free_subnet(others + taken, avoid=host_nameservers())
        with self.db.write() as c:
            c.execute("UPDATE networks SET subnet = ?, gateway = ? WHERE id = ?",
                      (str(new), ipam.gateway_of(new), net.id))
        return self.by_id(net.id)

    def remove(self, ref: str) -> Network:
        if ref in PREDEFINED or ref in (DEFAULT, "default"):
            raise Conflict(f"{ref} is a pre-defined network and cannot be removed")
        net = self.get(ref)
        if net.name == DEFAULT:
            raise Conflict(f"{DEFAULT} is a pre-defined network and cannot be removed")
        with network_lock():
            if self.endpoint_count(net.id):
                raise Conflict(f"error while removing network: network {net.name} id {net.id} "
                               "has active endpoints")
            with self.db.write() as c:
                c.execute("DELETE FROM networks WHERE id = ?", (net.id,))
                emit(c, "network", "destroy", net.id, name=net.name)
            from .bridge import bridge_down

            bridge_down(net)  # a crash may have left it up
        return net

    def prune(self, *, dry_run: bool = False) -> list[Network]:
        gone = []
        for net in self.all_networks():
            if net.name == DEFAULT or self.endpoint_count(net.id):
                continue
            if not dry_run:
                try:
                    self.remove(net.id)
                except (Conflict, NotFound):
                    continue
            gone.append(net)
        return gone

    def inspect(self, net: Network) -> dict:
        """Docker's ``network inspect`` document."""
        from ..images.config import format_created

        containers = {}
        for r in self.db.query(
                "SELECT e.*, c.name FROM endpoints e JOIN containers c ON c.id = e.container_id "
                "WHERE e.network_id = ? ORDER BY e.ip", (net.id,)):
            containers[r["container_id"]] = {
                "Name": r["name"], "EndpointID": r["id"], "MacAddress": r["mac"],
                "IPv4Address": f"{r['ip']}/{net.prefixlen}", "IPv6Address": ""}
        options = dict(net.options)
        options.setdefault("com.docker.network.bridge.name", net.bridge)
        if net.name == DEFAULT:
            options.setdefault("com.docker.network.bridge.default_bridge", "true")
            options.setdefault("com.docker.network.bridge.enable_ip_masquerade", "true")
        return {
            "Name": net.name, "Id": net.id, "Created": format_created(net.created),
            "Scope": "local", "Driver": net.driver, "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None if net.name == DEFAULT else {},
                     "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
            "Internal": net.internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": options, "Labels": dict(net.labels)}

    def inspect_predefined(self, name: str) -> dict:
        return {
            "Name": name, "Id": predefined_id(self.store.root, name),
            "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": PREDEFINED[name],
            "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None, "Config": None},
            "Internal": False, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
            "Options": {}, "Labels": {}}

    # -- a container's networks ---------------------------------------------
    def for_container(self, cid: str, mode: str,
                      aliases: list[str]) -> list[tuple[Network, list[str]]]:
        rows = self.db.query("SELECT * FROM container_networks WHERE container_id = ?", (cid,))
        off = {r["network_id"] for r in rows if not r["connected"]}
        out: list[tuple[Network, list[str]]] = []
        if mode not in PREDEFINED and not mode.startswith("container:"):
            primary = self.get(mode)
            if primary.id not in off:
                extra: list[str] = next((json.loads(r["aliases"]) for r in rows
                              if r["network_id"] == primary.id and r["connected"]), [])
                out.append((primary, list(dict.fromkeys([*aliases, *extra]))))
        for r in rows:
            if r["connected"] and all(n.id != r["network_id"] for n, _ in out):
                try:
                    out.append((self.by_id(r["network_id"]), json.loads(r["aliases"])))
                except NotFound:
                    continue
        return out


def _host_networks() -> list[str]:
    from .netlink import host_networks

    return host_networks()
