"""The :class:`Engine` facade (re-exported by ``engine``, which loads it on
first use so that ``import engine`` stays cheap)."""


from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

from . import __version__
from .errors import (
    Conflict,
    EngineError,
)
from .images import ImageSummary
from .progress import ProgressFn
from .runtime import ContainerSummary
from .store import Event, Store, default_root

if TYPE_CHECKING:  # httpx stays out of `import engine.api`
    from .build.events import BuildEvent
    from .registry import PullResult, PushResult
    from .usage.sampler import WritableSampler, WritableUsage


@dataclass(frozen=True)
class HistoryEntry:
    """One row of ``history``: a config history entry and its layer's size."""

    image_id: str  # "<missing>" unless it is a local image
    created: float
    created_by: str
    size: int
    comment: str
    empty_layer: bool


class Engine:
    def __init__(self, root: str | None = None) -> None:
        from .images.store import ImageStore
        from .snapshots import OverlaySnapshotter

        self.store = Store(root or default_root())
        self.root = self.store.root
        self.snapshots = OverlaySnapshotter(self.store.db, self.store.path("snapshots"))
        self.image_store = ImageStore(self.store)
        self._runtimes: dict[str, object] = {}
        self._containers = None
        self._volumes = None

    @property
    def volume_store(self):  # noqa: ANN201
        if self._volumes is None:
            from .volumes import VolumeStore

            self._volumes = VolumeStore(self.store)
        return self._volumes

    @property
    def container_store(self):  # noqa: ANN201
        if self._containers is None:
            from .network import driver_factory
            from .runtime.containers import Containers

            self._containers = Containers(self.store, self.snapshots, self.image_store,
                                          self.volume_store, self.runtime,
                                          network=driver_factory(self.store))
        return self._containers

    def runtime(self, name: str = ""):  # noqa: ANN201
        """The OCI runtime to use (probed once per host; ``name`` forces one)."""
        if name not in self._runtimes:
            from .images.digest import sha256_hex
            from .runtime.oci import Runtime, probe

            state = os.path.join("/run/dockyard",
                                 sha256_hex(self.root.encode())[:12])
            info = probe(self.root, state, prefer=name or None)
            self._runtimes[name] = Runtime(info, os.path.join(state, info.name))
            os.makedirs(os.path.join(state, info.name), mode=0o700, exist_ok=True)
        return self._runtimes[name]

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- images ----------------------------------------------------------
    def images(self) -> list[ImageSummary]:
        return self.image_store.summaries()

    def resolve_image(self, ref: str) -> str:
        return self.image_store.resolve(ref)

    def image_inspect(self, ref: str) -> dict:
        return self.image_store.inspect(self.image_store.resolve(ref))

    def image_config(self, ref: str) -> dict:
        return self.image_store.config(self.image_store.resolve(ref)).raw

    def tag(self, source: str, target: str) -> str:
        return self.image_store.tag(source, target)

    def remove_image(self, ref: str, *, force: bool = False, prune: bool = True) -> list[str]:
        from .images.remove import remove_image

        return remove_image(self.store, self.image_store, self.snapshots, ref, force=force,
                            prune=prune)

    def history(self, ref: str) -> list[HistoryEntry]:
        """``history``: the config's steps, newest first (none without history)."""
        from .usage.layers import layer_steps

        image_id = self.image_store.resolve(ref)
        cfg = self.image_store.config(image_id)
        if not cfg.history:
            return []
        out = [HistoryEntry("<missing>", s.created, s.created_by, s.size, s.comment,
                            s.empty_layer) for s in reversed(layer_steps(self.store, cfg))]
        out[0] = replace(out[0], image_id=image_id)
        return out

    def load(self, src: BinaryIO, *, label: str = "archive", platform: str | None = None,
             progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> list:
        from .archive.load import load
        from .images.reference import parse_platform

        return load(self.store, self.snapshots, self.image_store, src, label=label,
                    platform=parse_platform(platform) if platform else None,
                    progress=progress, cancel=cancel)

    def save(self, refs: Sequence[str], out: BinaryIO, *, format: str = "docker-archive",  # noqa: A002
             progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> None:
        from .archive.save import save

        save(self.store, self.image_store, self.snapshots, list(refs), out,
             format=format, progress=progress, cancel=cancel)  # type: ignore[arg-type]

    def import_image(self, src: BinaryIO, *, source: str = "-", ref: str | None = None,
                     changes: Sequence[str] = (), message: str = "",
                     platform: str | None = None, progress: ProgressFn | None = None,
                     cancel: threading.Event | None = None) -> str:
        from .archive.importer import import_image
        from .images.reference import parse

        parsed = parse(ref) if ref else None
        return import_image(self.store, self.snapshots, self.image_store, src, source=source,
                            ref=parsed, changes=changes, message=message, platform=platform,
                            progress=progress, cancel=cancel)

    def image_layers(self, ref: str) -> list:
        """The image's layer stack (oldest first) as :class:`usage.LayerInfo`."""
        from .usage.layers import image_layers

        return image_layers(self.store, self.image_store, self.image_store.resolve(ref))

    # -- containers ------------------------------------------------------
    def containers(self, *, all: bool = True) -> list[ContainerSummary]:  # noqa: A002
        """Containers, newest first (``all=False``: running ones only)."""
        from .runtime.query import summaries

        return summaries(self.container_store, all=all)

    def resolve_container(self, ref: str) -> str:
        return self.container_store.resolve(ref)

    def create(self, opts) -> str:  # noqa: ANN001
        """Create a container from :class:`runtime.options.CreateOptions`; return its ID."""
        return self.container_store.create(opts)

    def start(self, ref: str, *, attach: bool = False):  # noqa: ANN201
        """Start a container; with ``attach`` return a connected AttachClient."""
        return self.container_store.start(self.resolve_container(ref), wait_attach=attach)

    def attach(self, ref: str, *, stdin: bool = True):  # noqa: ANN201
        from .runtime.attach import AttachClient

        cid = self.resolve_container(ref)
        row = self.container_store.row(cid)
        if row["state"] not in ("running", "paused", "restarting"):
            raise Conflict("You cannot attach to a stopped container, start it first")
        return AttachClient.connect(self.container_store.socket_path(cid), stdin=stdin)

    def stop(self, ref: str, *, timeout: int | None = None, signal: str = "") -> str:
        cid = self.resolve_container(ref)
        self.container_store.stop(cid, timeout=timeout, signal=signal)
        return cid

    def restart(self, ref: str, *, timeout: int | None = None) -> str:
        cid = self.stop(ref, timeout=timeout)
        self.container_store.start(cid)
        return cid

    def kill(self, ref: str, *, signal: str = "KILL") -> str:
        cid = self.resolve_container(ref)
        self.container_store.kill(cid, signal)
        return cid

    def pause(self, ref: str) -> str:
        cid = self.resolve_container(ref)
        self.container_store.pause(cid)
        return cid

    def unpause(self, ref: str) -> str:
        cid = self.resolve_container(ref)
        self.container_store.pause(cid, resume=True)
        return cid

    def wait(self, ref: str) -> int:
        return self.container_store.wait(self.resolve_container(ref))

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        cid = self.resolve_container(ref)
        self.container_store.remove(cid, force=force, volumes=volumes)
        return cid

    def container_size(self, ref: str) -> tuple[int, int]:
        """(writable layer bytes, writable + image bytes) — ``ps -s``."""
        cid = self.resolve_container(ref)
        rw = self.snapshots.usage(cid).size if self.snapshots.exists(cid) else 0
        image_id = self.container_store.row(cid)["image_id"]
        return rw, rw + self.image_store.record(image_id).size

    def rename(self, ref: str, new: str) -> None:
        self.container_store.rename(self.resolve_container(ref), new)

    def container_inspect(self, ref: str) -> dict:
        from .runtime.query import inspect

        return inspect(self.container_store, self.resolve_container(ref))

    def logs(self, ref: str, *, since_ns: int = 0, until_ns: int | None = None,
             tail: int = -1, follow: bool = False) -> Iterator:
        from .runtime import logs

        svc = self.container_store
        cid = self.resolve_container(ref)

        def running() -> bool:
            row = svc.db.one("SELECT state FROM containers WHERE id = ?", (cid,))
            return row is not None and row["state"] in ("running", "paused", "restarting")

        return logs.read(os.path.join(svc.dir(cid), "container.log"), since_ns=since_ns,
                         until_ns=until_ns, tail=tail, follow=follow, running=running)

    # -- writable layers -------------------------------------------------
    def writable_sampler(self, ref: str, *, top: int = 10) -> WritableSampler:
        """Incremental sampler of the container's writable layer (engine.usage.sampler).

        Building it does no I/O; call ``sample()`` from a worker, ``close()`` when done."""
        from .usage.sampler import WritableSampler

        return WritableSampler(self.snapshots.upper_dir(self.resolve_container(ref)), top=top)

    def writable_usage(self, ref: str) -> WritableUsage:
        """Full scan of the writable layer: apparent and on-disk bytes, files, dirs, whiteouts."""
        from .usage.sampler import measure

        return measure(self.snapshots.upper_dir(self.resolve_container(ref)))

    def image_analyze(self, ref: str):  # noqa: ANN201
        """dive's figures, reclaimable bytes per step and each layer's changes
        (:class:`usage.analyze.Analysis`)."""
        from .usage.analyze import analyze_image

        return analyze_image(self.store, self.image_store, self.snapshots,
                             self.image_store.resolve(ref))

    def image_tree(self) -> list:
        """Roots of the layer family tree (:class:`usage.tree.TreeNode`)."""
        from .usage.tree import layer_tree

        return layer_tree(self.store, self.image_store)

    def layer_changes(self, ref: str, index: int, *, aggregated: bool = False,
                      unchanged: bool = False, cancel: threading.Event | None = None) -> list:
        """What layer ``index`` (0 = base, -1 = top) of the image added,
        modified and removed, dive's way (:class:`usage.filetree.FileChange`)."""
        from .usage.filetree import layer_changes

        return layer_changes(self.image_store, self.snapshots, self.image_store.resolve(ref),
                             index, aggregated=aggregated, unchanged=unchanged, cancel=cancel)

    def disk_usage(self):  # noqa: ANN201
        """``system df``: every byte of the root, by category (engine.usage.df)."""
        from .usage.df import disk_usage

        return disk_usage(self)

    # -- build -----------------------------------------------------------
    def build(self, context: str, *, dockerfile: str = "", dockerfile_text: str | None = None,
              tags: Sequence[str] = (), build_args: Mapping[str, str] | None = None,
              target: str = "", no_cache: bool = False,
              labels: Mapping[str, str] | None = None, network: str = "default",
              pull: bool = False, platform: str = "",
              secrets: Mapping[str, bytes] | None = None,
              ssh: Mapping[str, str] | None = None,
              cancel: threading.Event | None = None) -> Iterator[BuildEvent]:
        """Build an image from ``context``: a generator of :class:`build.BuildEvent`.

        Nothing happens until it is iterated; the last event has kind ``result`` and the
        image ID.  A failure raises :class:`build.BuildError` (``excerpt``, ``logs``,
        ``vertex_name`` for display) after an ``error`` event; ``cancel`` stops it with
        :class:`Cancelled`.  Iterate it from a worker thread in a UI.  ``secrets`` maps
        a secret's id to its bytes, ``ssh`` an id to an agent socket (``--secret``,
        ``--ssh``).
        """
        from .build.events import BuildOptions
        from .build.executor import build

        return build(self, BuildOptions(
            context=context, dockerfile=dockerfile, dockerfile_text=dockerfile_text,
            tags=tuple(tags), build_args=dict(build_args or {}), target=target,
            no_cache=no_cache, labels=dict(labels or {}), network=network, pull=pull,
            platform=platform, secrets=dict(secrets or {}), ssh=dict(ssh or {}),
            cancel=cancel))

    def build_cache_usage(self):  # noqa: ANN201
        """The build cache's records and bytes (:class:`build.cache.CacheUsage`)."""
        from .build.cache import cache_usage

        return cache_usage(self)

    def prune_build_cache(self, *, all: bool = False, keep_storage: int = 0,  # noqa: A002
                          filters: dict[str, list[str]] | None = None,
                          dry_run: bool = False):  # noqa: ANN201
        """``builder prune`` (:class:`usage.prune.PruneReport`)."""
        from .build.cache import prune_cache

        return prune_cache(self, all=all, keep_storage=keep_storage, filters=filters,
                           dry_run=dry_run)

    # -- registry --------------------------------------------------------
    def pull(self, ref: str, *, platform: str | None = None, all_tags: bool = False,
             tls_verify: bool = True, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> PullResult:
        from .images.reference import parse_platform
        from .registry import pull

        return pull(self.store, self.snapshots, self.image_store, ref,
                    platform=parse_platform(platform) if platform else None,
                    all_tags=all_tags, tls_verify=tls_verify, progress=progress, cancel=cancel)

    def push(self, ref: str, *, all_tags: bool = False, tls_verify: bool = True,
             progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> list[PushResult]:
        from .registry import push

        return push(self.store, self.snapshots, self.image_store, ref, all_tags=all_tags,
                    tls_verify=tls_verify, progress=progress, cancel=cancel)

    def login(self, server: str | None, username: str, password: str, *,
              tls_verify: bool = True) -> str:
        from .registry import login

        return login(server, username, password, tls_verify=tls_verify)

    def logout(self, server: str | None) -> bool:
        from .registry import logout

        return logout(server)

    # -- system ----------------------------------------------------------
    def last_event_id(self) -> int:
        from .store import events

        return events.last_id(self.store.db)

    def events_after(self, last_id: int, *, limit: int = 1000) -> list[Event]:
        """Events with ids above ``last_id`` (poll this from a worker)."""
        from .store import events

        return events.after(self.store.db, last_id, limit=limit)

    def events(self, *, since_ns: int = 0, until_ns: int | None = None,
               follow: bool = False) -> Iterator[Event]:
        from .store import events

        if not follow:
            cursor = 0
            while batch := events.after(self.store.db, cursor, since_ns=since_ns,
                                        until_ns=until_ns):
                yield from batch
                cursor = batch[-1].id
            return
        start = 0 if since_ns else events.last_id(self.store.db)
        for ev in events.follow(self.store.db, start, until_ns=until_ns):
            if ev.time_ns >= since_ns:
                yield ev

    def check(self, *, repair: bool = False):
        from .store.check import check

        return check(self.store, self.snapshots.root, repair=repair)

    def info(self) -> dict:
        def count(sql: str) -> int:
            row = self.store.db.one(sql)
            return int(row[0]) if row else 0

        counts: dict[str, object] = {
            "Images": count("SELECT COUNT(*) FROM images"),
            "Layers": count("SELECT COUNT(*) FROM layers"),
            "Containers": count("SELECT COUNT(*) FROM containers"),
            "ContainersRunning": count("SELECT COUNT(*) FROM containers WHERE state = 'running'"),
            "ContainersPaused": count("SELECT COUNT(*) FROM containers WHERE state = 'paused'"),
            "ContainersStopped": count("SELECT COUNT(*) FROM containers WHERE state NOT IN "
                                       "('running', 'paused')"),
        }
        try:
            rt = self.runtime().info
            counts.update(Runtime=rt.name, RuntimeVersion=rt.version, RuntimeReason=rt.reason)
        except EngineError as e:
            counts.update(Runtime="none", RuntimeReason=str(e))
        uname = os.uname()
        st = os.statvfs(self.root)
        return {
            **counts,
            "DockyardRootDir": self.root,
            "Driver": "overlay",
            "KernelVersion": uname.release,
            "OperatingSystem": _os_name(),
            "OSType": "linux",
            "Architecture": os.uname().machine,
            "NCPU": os.cpu_count(),
            "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "DiskFree": st.f_bavail * st.f_frsize,
            "ServerVersion": __version__,
            "Python": sys.version.split()[0],
        }

    # -- container extras (exec, stats, commit, cp) --
    def exec(self, ref: str, cmd: Sequence[str], *, interactive: bool = False,
             tty: bool = False, detach: bool = False, env: Sequence[str] = (),
             workdir: str = "", user: str = "", privileged: bool = False) -> int:
        """Run ``cmd`` in a running container with our stdio; its exit code."""
        from .runtime.exec import exec_in

        return exec_in(self.container_store, self.resolve_container(ref), cmd,
                       interactive=interactive, tty=tty, detach=detach, env=env,
                       workdir=workdir, user=user, privileged=privileged)

    def top(self, ref: str, ps_args: Sequence[str] = ()) -> tuple[list[str], list[list[str]]]:
        """(titles, rows) of the container's processes, as ``docker top``."""
        from .runtime.stats import top

        return top(self.container_store, self.resolve_container(ref), ps_args)

    def stats_sample(self, ref: str):  # noqa: ANN201
        """Raw counters now (:class:`runtime.stats.Sample`); two make a CPU %."""
        from .runtime.stats import sample

        return sample(self.container_store, self.resolve_container(ref))

    def stats_samples(self, *, io: bool = True) -> dict:
        """Raw counters of every running or paused container, by ID, in one
        pass (:func:`runtime.stats.sample_all`); ``io=False`` skips net/block I/O."""
        from .runtime.stats import sample_all

        return sample_all(self.container_store, io=io)

    def stats(self, refs: Sequence[str], *, interval: float = 1.0) -> list:
        """One ``stats --no-stream`` reading (:class:`runtime.stats.ContainerStats`)."""
        from .runtime.stats import stats

        return stats(self.container_store, [self.resolve_container(r) for r in refs],
                     interval=interval)

    def diff(self, ref: str) -> list:
        """The writable layer's changes (:class:`layers.Change`: A/C/D), by path."""
        from .runtime.commit import diff

        return diff(self.container_store, self.resolve_container(ref))

    def commit(self, ref: str, reference: str | None = None, *, message: str = "",
               author: str = "", changes: Sequence[str] = (), pause: bool = True) -> str:
        """A new image from the container's writable layer; its ID."""
        from .runtime.commit import commit

        return commit(self.container_store, self.resolve_container(ref), reference=reference,
                      message=message, author=author, changes=changes, pause=pause)

    def export(self, ref: str, out: BinaryIO) -> None:
        """The container's merged filesystem as a tar."""
        from .runtime.copy import export

        export(self.container_store, self.resolve_container(ref), out)

    def copy_from(self, ref: str, src: str, dest: str | BinaryIO, *,
                  follow_link: bool = False) -> int:
        """``cp CTR:SRC DEST`` (a host path, or a stream that gets a tar); bytes copied."""
        from .runtime.copy import copy_from

        return copy_from(self.container_store, self.resolve_container(ref), src, dest,
                         follow_link=follow_link, ref=ref)

    def copy_to(self, ref: str, src: str | BinaryIO, dest: str, *, archive: bool = False,
                follow_link: bool = False) -> int:
        """``cp SRC CTR:DEST`` (a host path, or a tar stream); bytes copied."""
        from .runtime.copy import copy_to

        return copy_to(self.container_store, self.resolve_container(ref), src, dest,
                       archive=archive, follow_link=follow_link, ref=ref)

    def volumes(self) -> list:
        return self.volume_store.list()

    def volume(self, name: str):  # noqa: ANN201
        return self.volume_store.get(name)

    def create_volume(self, name: str = "", *, labels: dict[str, str] | None = None,
                      driver: str = "local", options: dict[str, str] | None = None):  # noqa: ANN201
        return self.volume_store.create(name, labels=labels, driver=driver, options=options)

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self.volume_store.remove(name, force=force)


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
