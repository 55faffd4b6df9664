"""``container prune``: remove every stopped container a filter lets through."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from ..errors import EngineError, NotFound
from ..filters import match_labels, parse_filters, parse_until
from .containers import LIVE, Containers

PRUNE_FILTERS = {"until", "label", "label!"}


def prune_containers(svc: Containers, filters: Sequence[str] = (), *,
                     dry_run: bool = False) -> list[tuple[str, int]]:
    """(container ID, writable layer bytes) of each container removed."""
    f = parse_filters(list(filters), PRUNE_FILTERS)
    now = time.time()
    until = [parse_until(v, now) for v in f.values_of("until")]
    gone = []
    for row in svc.db.query("SELECT * FROM containers ORDER BY created"):
        row = svc.reconcile(row)
        if row is None or row["state"] in LIVE or row["state"] == "removing":
            continue
        labels = json.loads(row["config"]).get("Labels") or {}
        if any(row["created"] >= u for u in until):
            continue
        if not match_labels(labels, list(f.values_of("label"))):
            continue
        if any(match_labels(labels, [v]) for v in f.values_of("label!")):
            continue
        cid = row["id"]
        size = svc.snapshots.usage(cid).size if svc.snapshots.exists(cid) else 0
        if not dry_run:
            try:
                svc.remove(cid)
            except NotFound:
                continue  # removed by someone else meanwhile
            except EngineError:
                continue  # started meanwhile: not stopped any more
        gone.append((cid, size))
    return gone
