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
