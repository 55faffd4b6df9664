"""engine.build's public surface."""

from __future__ import annotations

import engine.build
from engine.build import DockerfileError, ExpansionError, parse
from engine.errors import EngineError, InvalidArgument


def test_all_names_exist() -> None:
    for name in engine.build.__all__:
        assert hasattr(engine.build, name), name
    assert sorted(engine.build.__all__) == sorted(set(engine.build.__all__))


def test_errors_are_engine_errors() -> None:
    assert issubclass(DockerfileError, InvalidArgument)
    assert issubclass(ExpansionError, InvalidArgument)
    assert issubclass(DockerfileError, EngineError)


def test_bytes_input_keeps_invalid_utf8() -> None:
    df = parse(b"FROM x\nLABEL a=\xff\xfe\n")
    assert df.dump() == '(from "x")\n(label "a" "\\xff\\xfe" "=")'
