"""An image's layer stack with the step that made each layer and who shares it."""

from __future__ import annotations

from dataclasses import replace

from ..images.config import ImageConfig, chain_ids, parse_rfc3339
from ..images.store import ImageStore
from ..store import Store
from . import LayerInfo


def chains_by_image(store: Store) -> dict[str, set[str]]:
    """Image ID → the ChainIDs of its whole stack."""
    parent = {r["chain_id"]: r["parent"] for r in store.db.query(
        "SELECT chain_id, parent FROM layers")}
    out: dict[str, set[str]] = {}
    for r in store.db.query("SELECT id, top_layer FROM images"):
        chain, seen = r["top_layer"], set()
        while chain:
            seen.add(chain)
            chain = parent.get(chain)
        out[r["id"]] = seen
    return out


def layer_steps(store: Store, cfg: ImageConfig) -> list[LayerInfo]:
    """The config's history paired with its layers (oldest first), without who
    else shares them; an image without history gets one step per layer."""
    chains = chain_ids(cfg.diff_ids)
    sizes = {r["chain_id"]: r["size"] for r in store.db.query("SELECT chain_id, size FROM layers")}
    out: list[LayerInfo] = []
    layer = 0
    for i, h in enumerate(cfg.history or [{} for _ in cfg.diff_ids]):
        empty = bool(h.get("empty_layer")) or layer >= len(chains)
        chain = diff = ""
        if not empty:
            chain, diff = chains[layer], cfg.diff_ids[layer]
            layer += 1
        created = h.get("created")
        out.append(LayerInfo(
            index=i, chain_id=chain, diff_id=diff, size=sizes.get(chain, 0),
            created=max(0.0, parse_rfc3339(created)) if isinstance(created, str) else 0.0,
            created_by=h.get("created_by", ""), comment=h.get("comment", ""),
            empty_layer=empty, shared_by=()))
    return out


def image_layers(store: Store, images: ImageStore, image_id: str) -> list[LayerInfo]:
    """:func:`layer_steps` plus the other images and the containers using each layer."""
    stacks = chains_by_image(store)
    users: dict[str, list[str]] = {}
    for other, stack in stacks.items():
        if other != image_id:
            for ch in stack:
                users.setdefault(ch, []).append(other)
    ctr_users: dict[str, list[str]] = {}
    for r in store.db.query("SELECT id, image_id FROM containers"):
        for ch in stacks.get(r["image_id"], ()):
            ctr_users.setdefault(ch, []).append(r["id"])
    return [replace(step, shared_by=tuple(sorted(users.get(step.chain_id, ()))),
                    containers=tuple(sorted(ctr_users.get(step.chain_id, ()))))
            if step.chain_id else step
            for step in layer_steps(store, images.config(image_id))]
