"""The CLI tests run real containers: the runtime tests' root fixture."""

from tests.engine.runtime.conftest import croot  # noqa: F401 - a state root with busybox
