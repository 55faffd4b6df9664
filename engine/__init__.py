"""dockyard's engine: a daemonless container engine as a synchronous library.

``Engine(root)`` opens (or creates) a state root and is the one public
surface the CLI and the TUI call.  Every method is synchronous and may do
I/O: call it from a worker thread in a UI.  Long operations take
keyword-only ``progress=`` (a callable receiving :class:`Progress`) and
``cancel=`` (a ``threading.Event``).  Failures raise
:class:`~engine.errors.EngineError` subclasses whose ``str()`` is one line.
"""

from __future__ import annotations

from .errors import (
    AlreadyExists,
    Cancelled,
    Conflict,
    DigestMismatch,
    EngineError,
    InvalidArgument,
    InvalidContent,
    InvalidReference,
    NotFound,
    Unavailable,
    UnsafeArchive,
)

TYPE_CHECKING = False  # typing's flag without importing typing (~8 ms): mypy knows the name
if TYPE_CHECKING:
    from typing import Any

    from .api import Engine, HistoryEntry
    from .images import ImageSummary
    from .progress import Progress
    from .runtime import ContainerSummary
    from .store import Event, default_root

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "Conflict",
    "ContainerSummary",
    "DigestMismatch",
    "Engine",
    "EngineError",
    "Event",
    "HistoryEntry",
    "ImageSummary",
    "InvalidArgument",
    "InvalidContent",
    "InvalidReference",
    "NotFound",
    "Progress",
    "Unavailable",
    "UnsafeArchive",
    "__version__",
    "default_root",
]

# Loaded on first use (PEP 562): `import engine` must stay cheap, because the
# CLI boots a container's monitor before it imports the rest (cli/__init__.py)
_LAZY = {"Engine": "api", "HistoryEntry": "api", "ImageSummary": "images",
         "Progress": "progress", "ContainerSummary": "runtime", "Event": "store",
         "default_root": "store"}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value
