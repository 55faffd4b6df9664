"""The flags of ``create`` and ``run``: one table, read by two parsers.

:data:`CREATE_FLAGS` (and :data:`RUN_FLAGS`, which adds ``-d`` and
``--detach-keys``) is the only list of these flags.  ``container.py`` turns
each row into a click option; :func:`parse` reads a command line with the
same rows without importing click, because ``dockyard run`` is the command
whose start-up time matters (see :func:`parse_command_line` and
``engine/cli/__init__.py``).

:func:`parse` accepts what click accepts for these commands — short flags
clustered (``-dit``, ``-eK=V``), ``--name=x`` and ``--name x``, repeated
options, ``--``, options only before the image — and returns exactly the
keyword arguments click would pass the command.  For anything else (help,
an unknown or misused flag, a missing value, a bad number, no image) it
returns ``None``: the caller then hands the command line to click, which
prints its usual help or error.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CREATE_FLAGS", "RUN_FLAGS", "Flag", "parse", "parse_command_line"]


class Flag:
    """One row of the table.

    ``spellings`` is ``"-e --env"``; ``kind`` is ``bool`` for a flag that
    takes no value, else the type its value converts to (``str``, ``int``,
    ``float``); ``multiple`` options repeat and collect a tuple.  ``dest``,
    the keyword the command receives, defaults to the first long spelling
    (``--cap-add`` → ``cap_add``)."""

    __slots__ = ("default", "dest", "help", "kind", "multiple", "spellings")

    def __init__(self, spellings: str, kind: type, default: object, help: str, *,  # noqa: A002
                 multiple: bool = False, dest: str = "") -> None:
        self.spellings = tuple(spellings.split())
        self.kind = kind
        self.default = default
        self.help = help
        self.multiple = multiple
        self.dest = dest or next(s for s in self.spellings if s.startswith("--"))[2:].replace(
            "-", "_")

    def __repr__(self) -> str:
        return f"Flag({' '.join(self.spellings)!r} -> {self.dest})"


CREATE_FLAGS = (
    Flag("--name", str, "", "Assign a name to the container"),
    Flag("-e --env", str, (), "Set environment variables", multiple=True),
    Flag("--env-file", str, (), "Read in a file of environment vars", multiple=True),
    Flag("-w --workdir", str, "", "Working directory in the container"),
    Flag("-u --user", str, "", "Username or UID (<name|uid>[:<group>])"),
    Flag("--entrypoint", str, None, "Overwrite the default ENTRYPOINT"),
    Flag("-h --hostname", str, "", "Container host name"),
    Flag("-l --label", str, (), "Set meta data on a container", multiple=True),
    Flag("-i --interactive", bool, False, "Keep STDIN open"),
    Flag("-t --tty", bool, False, "Allocate a pseudo-TTY"),
    Flag("--restart", str, "no", "Restart policy"),
    Flag("--rm", bool, False, "Remove the container on exit", dest="auto_remove"),
    Flag("--network --net", str, "bridge", "Connect to a network"),
    Flag("--privileged", bool, False, "Give extended privileges"),
    Flag("--cap-add", str, (), "Add Linux capabilities", multiple=True),
    Flag("--cap-drop", str, (), "Drop Linux capabilities", multiple=True),
    Flag("--read-only", bool, False, "Mount the root filesystem read only"),
    Flag("-m --memory", str, "", "Memory limit"),
    Flag("--memory-swap", str, "", "Memory + swap limit (-1: unlimited)"),
    Flag("--cpus", float, 0.0, "Number of CPUs"),
    Flag("-c --cpu-shares", int, 0, "CPU shares"),
    Flag("--pids-limit", int, 0, "Tune container pids limit"),
    Flag("-v --volume", str, (), "Bind mount a volume", multiple=True),
    Flag("--mount", str, (), "Attach a filesystem mount", multiple=True),
    Flag("--tmpfs", str, (), "Mount a tmpfs directory", multiple=True),
    Flag("--log-opt", str, (), "Log driver options", multiple=True),
    Flag("--stop-signal", str, "", "Signal to stop the container"),
    Flag("--stop-timeout", int, None, "Timeout to stop"),
    Flag("--runtime", str, "", "Runtime to use (crun or runc)"),
    Flag("-p --publish", str, (), "Publish a container's port(s)", multiple=True),
    Flag("-P --publish-all", bool, False, "Publish all exposed ports"),
    Flag("--network-alias", str, (), "Add network-scoped alias", multiple=True),
)

RUN_FLAGS = (
    Flag("-d --detach", bool, False, "Run container in background and print ID"),
    Flag("--detach-keys", str, "ctrl-p,ctrl-q", "Key sequence for detaching"),
    *CREATE_FLAGS,
)

COMMANDS = {"create": CREATE_FLAGS, "run": RUN_FLAGS}


def _index(flags: tuple[Flag, ...]) -> tuple[dict[str, Flag], dict[str, Flag]]:
    """Long spellings by spelling, short ones by their letter (click's split:
    ``-x`` is short, anything longer is long)."""
    longs, shorts = {}, {}
    for flag in flags:
        for s in flag.spellings:
            if len(s) == 2 and s[1] != "-":
                shorts[s[1]] = flag
            else:
                longs[s] = flag
    return longs, shorts


def parse(args: Sequence[str],
          flags: tuple[Flag, ...] = RUN_FLAGS) -> dict[str, object] | None:
    """The keyword arguments click would pass the command for ``args`` (the
    words after ``run``), including ``image`` and ``command``; ``None`` for
    anything click would reject or answer with help."""
    longs, shorts = _index(flags)
    values: dict[str, object] = {f.dest: f.default for f in flags}
    many: dict[str, list[object]] = {f.dest: [] for f in flags if f.multiple}
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg[:1] != "-" or arg == "-":  # the image: options end there
            break
        i += 1
        spelling, eq, value = arg.partition("=")
        flag = longs.get(spelling)
        if flag is not None:
            if flag.kind is bool:
                if eq:  # --rm=true: click refuses a value for a flag
                    return None
                values[flag.dest] = True
                continue
            if not eq:
                if i == n:
                    return None
                value, i = args[i], i + 1
            if not _store(values, many, flag, value):
                return None
            continue
        if arg[:2] == "--":  # unknown long option, or --help
            return None
        for j in range(1, len(arg)):  # a cluster: -dit, -eK=V, -it --name x
            flag = shorts.get(arg[j])
            if flag is None:
                return None
            if flag.kind is bool:
                values[flag.dest] = True
                continue
            if j + 1 < len(arg):  # the rest of the word is its value
                value = arg[j + 1:]
            elif i < n:
                value, i = args[i], i + 1
            else:
                return None
            if not _store(values, many, flag, value):
                return None
            break
    if i == n:  # no image
        return None
    values.update((dest, tuple(got)) for dest, got in many.items() if got)
    values["image"] = args[i]
    values["command"] = tuple(args[i + 1:])
    return values


def _store(values: dict[str, object], many: dict[str, list[object]], flag: Flag,
           raw: str) -> bool:
    """Convert ``raw`` as click's type would and keep it; False if it does not
    convert."""
    value: object = raw
    if flag.kind is not str:
        try:
            value = flag.kind(raw)  # what click's INT and FLOAT types call
        except ValueError:
            return False
    if flag.multiple:
        many[flag.dest].append(value)
    else:
        values[flag.dest] = value
    return True


def parse_command_line(argv: Sequence[str]
                       ) -> tuple[str | None, str, dict[str, object]] | None:
    """``(root, command, kwargs)`` for a whole ``dockyard`` command line that is
    ``[--root X] [container] run|create …``, as the click group would read it
    (``root`` is ``None`` when not given: the caller applies the group's
    default); ``None`` for anything else."""
    root = None
    i, n = 0, len(argv)
    while i < n and argv[i][:1] == "-":
        arg = argv[i]
        if arg == "--root":
            if i + 1 == n:
                return None
            root, i = argv[i + 1], i + 2
        elif arg.startswith("--root="):
            root, i = arg[7:], i + 1
        else:  # -h, --help, --, an unknown option
            return None
    if i < n and argv[i] == "container":
        i += 1
    if i == n or argv[i] not in COMMANDS:
        return None
    kwargs = parse(argv[i + 1:], COMMANDS[argv[i]])
    return None if kwargs is None else (root, argv[i], kwargs)
