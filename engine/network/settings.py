"""``inspect``'s NetworkSettings for a container, from its ``network.json``.

``network.json`` (written by ``Containers._attach``) is the attachment as
it was made: while the container runs it is the truth; once released it is
gone and the settings show the configured network with empty addresses, as
Docker shows a stopped container.
"""

from __future__ import annotations

import json
import os

from .ports import parse_entry


def network_settings(container_dir: str, host_config: dict, running: bool) -> dict:
    mode = host_config.get("NetworkMode") or "bridge"
    att: dict = {}
    if running:
        try:
            with open(os.path.join(container_dir, "network.json")) as f:
                att = json.load(f)
        except (OSError, ValueError):
            att = {}
    networks = (att.get("extra") or {}).get("networks") or {}
    out: dict = {
        "Bridge": "", "SandboxID": "", "SandboxKey": att.get("netns", ""),
        "Ports": _ports(att.get("ports") or []) if running else {},
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
        "Networks": {},
    }
    if mode in ("host", "none") or mode.startswith("container:"):
        out["Networks"] = {} if mode.startswith("container:") else {mode: _entry({})}
        return out
    for name, ep in networks.items():
        out["Networks"][name] = _entry(ep)
    if not networks:
        out["Networks"][mode] = _entry({})
    default = networks.get("bridge")
    if default:  # Docker fills the top-level fields for the default bridge only
        for key in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress"):
            out[key] = default.get(key, out[key])
    return out


def _entry(ep: dict) -> dict:
    return {"IPAMConfig": None, "Links": None, "Aliases": ep.get("Aliases"),
            "MacAddress": ep.get("MacAddress", ""), "DriverOpts": None,
            "NetworkID": ep.get("NetworkID", ""), "EndpointID": ep.get("EndpointID", ""),
            "Gateway": ep.get("Gateway", ""), "IPAddress": ep.get("IPAddress", ""),
            "IPPrefixLen": ep.get("IPPrefixLen", 0), "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None}


def _ports(entries: list[str]) -> dict:
    out: dict[str, list[dict] | None] = {}
    for e in entries:
        p = parse_entry(e)
        key = f"{p.container_port}/{p.protocol}"
        if not p.host_port:
            out.setdefault(key, None)
            continue
        bindings = out.get(key) or []
        bindings.append({"HostIp": p.host_ip, "HostPort": str(p.host_port)})
        out[key] = bindings
    return out
