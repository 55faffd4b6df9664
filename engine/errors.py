"""The engine's exceptions: one tree, every error carries its context.

::

    EngineError                    base; str(e) is one line for the user
    ├── NotFound                   no such image, tag, layer, blob, container
    ├── AlreadyExists              a name or key that must be unique is taken
    ├── InvalidArgument            a bad flag value, reference or option
    │   └── InvalidReference       a reference Docker would refuse
    ├── InvalidContent             untrusted input is malformed or hostile
    │   ├── UnsafeArchive          a tar entry would escape its root
    │   └── DigestMismatch         content does not hash to its digest
    ├── Conflict                   the operation clashes with current state
    │                              (image used by a container, ambiguous ID)
    ├── Unavailable                a host facility is missing (overlay, runtime,
    │                              root privileges)
    ├── StartFailed                a container's process could not start
    │                              (exit_code 127 not found, 126 not executable)
    └── Cancelled                  the caller's cancel event was set

Front ends print ``str(err)`` as one line; ``exit_code`` is the code the
Docker CLI uses for that class of failure (1 for most, 125 when the
engine could not act on the request at all).
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "Conflict",
    "DigestMismatch",
    "EngineError",
    "InvalidArgument",
    "InvalidContent",
    "InvalidReference",
    "NotFound",
    "StartFailed",
    "Unavailable",
    "UnsafeArchive",
]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class NotFound(EngineError):
    pass


class AlreadyExists(EngineError):
    pass


class InvalidArgument(EngineError):
    exit_code = 125


class InvalidReference(InvalidArgument):
    pass


class InvalidContent(EngineError):
    pass


class UnsafeArchive(InvalidContent):
    pass


class DigestMismatch(InvalidContent):
    pass


class Conflict(EngineError):
    pass


class Unavailable(EngineError):
    exit_code = 125


class StartFailed(EngineError):
    def __init__(self, message: str, exit_code: int = 125, **context: object) -> None:
        super().__init__(message, **context)
        self.exit_code = exit_code


class Cancelled(EngineError):
    pass
