"""Name resolution on user networks through /etc/hosts, kept current.

Docker answers names with an embedded DNS server; dockyard has no daemon to
run one, so every running container on a user network gets one hosts line
per container on its networks (name, aliases, short ID), and those files are
rewritten — in place, they are bind mounts — whenever an endpoint comes or
goes.  A container joined with ``--network container:X`` gets X's lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from ..errors import Conflict, NotFound
from ..store import Store
from . import etcfiles


class HostsSync:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def container(self, ref: str) -> tuple[str, dict]:
        """(id, row) of a container by ID, name or unique ID prefix."""
        ref = ref.lstrip("/")
        row = self.db.one("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, ref))
        if row is None and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise Conflict(f"multiple IDs found with provided prefix: {ref}")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"No such container: {ref}")
        return row["id"], dict(row)

    def content(self, cid: str, hostname: str = "") -> str:
        eps = self.db.query(
            "SELECT e.*, n.name AS network FROM endpoints e JOIN networks n ON "
            "n.id = e.network_id WHERE e.container_id = ? ORDER BY length(e.ifname), e.ifname",
            (cid,))
        if not hostname:
            row = self.db.one("SELECT config FROM containers WHERE id = ?", (cid,))
            hostname = (json.loads(row["config"]).get("Hostname") if row else "") or cid[:12]
        own = [(eps[0]["ip"], hostname)] if eps else []
        peers: list[tuple[str, list[str]]] = []
        for e in eps:
            if e["network"] == "bridge":
                continue  # the default bridge has no name resolution, as in Docker
            for o in self.db.query(
                    "SELECT o.ip, o.aliases, o.container_id, c.name FROM endpoints o JOIN "
                    "containers c ON c.id = o.container_id WHERE o.network_id = ? "
                    "ORDER BY o.ip", (e["network_id"],)):
                peers.append((o["ip"], [o["name"], *json.loads(o["aliases"]),
                                        o["container_id"][:12]]))
        return etcfiles.hosts(own, peers)

    def refresh(self, network_ids: Iterable[str], skip: str = "") -> None:
        """Rewrite the hosts file of every container on these networks."""
        ids = list(network_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        for r in self.db.query(f"SELECT DISTINCT container_id FROM endpoints WHERE network_id "
                               f"IN ({marks})", tuple(ids)):
            if r["container_id"] != skip:
                self._write(r["container_id"])

    def refresh_container(self, cid: str) -> None:
        """After ``cid``'s networks changed: its own file and its peers'."""
        ids = [r["network_id"] for r in self.db.query(
            "SELECT network_id FROM endpoints WHERE container_id = ?", (cid,))]
        self._write(cid)
        self.refresh(ids, skip=cid)

    def _write(self, cid: str) -> None:
        text = self.content(cid)
        targets = [cid] + [r["container_id"] for r in self.db.query(
            "SELECT container_id FROM sandboxes WHERE joined = ?", (cid,))]
        for t in targets:
            etcfiles.rewrite_in_place(os.path.join(self.store.path("containers", t), "hosts"),
                                      text)
