"""The demo workspace `make run` creates: a real, runnable busybox:latest."""

from __future__ import annotations

from engine.demo import ensure_demo
from tests.conftest import dockyard


def test_demo_image_is_real_and_runs(engine, root) -> None:
    image_id = ensure_demo(engine)
    assert image_id and engine.resolve_image("busybox") == image_id
    assert ensure_demo(engine) is None  # idempotent
    cfg = engine.image_config("busybox")
    assert cfg["config"]["Cmd"] == ["sh"]
    r = dockyard(root, "run", "--rm", "busybox", "sh", "-c",
                 "id -un; ls /bin/ls; grep -c : /etc/group")
    assert r.stdout.decode().split() == ["root", "/bin/ls", "7"]


def test_demo_workspace_has_shared_layers_containers_and_waste(engine, root) -> None:
    from engine.demo import populate

    ensure_demo(engine)
    said: list[str] = []
    try:
        populate(engine, say=said.append)
        assert said == []  # everything started
        tags = {t for i in engine.images() for t in i.repo_tags}
        assert {"busybox:latest", "demo/web:1.0", "demo/web:1.1"} <= tags
        assert any(not i.repo_tags for i in engine.images())  # the dangling commit
        base = engine.image_layers("busybox:latest")[0].chain_id
        assert engine.image_layers("demo/web:1.1")[0].chain_id == base  # shared
        assert engine.image_analyze("demo/web:1.1").dive.wasted_bytes >= 16 * 65536
        states = {c.name: (c.state, c.exit_code) for c in engine.containers(all=True)}
        assert states == {"web": ("running", 0), "writer": ("running", 0),
                          "oops": ("exited", 1)}
        assert [v.name for v in engine.volumes()] == ["demo-data"]
    finally:
        for c in engine.containers(all=True):
            engine.remove_container(c.id, force=True)
