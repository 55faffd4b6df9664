"""Every engine call the TUI makes, each in a thread worker.

The UI thread never does I/O: it calls one of these methods, which returns
at once; the worker reports back with a message (``tui.state``) and asks the
live loop for a refresh after a change.  A worker that raises ends in
``WorkerState.ERROR`` and the App's one handler shows the error dialog.

The live loop polls ``events_after`` every ``poll_interval`` seconds and
reloads the state when events arrived, when asked to, or every
``refresh_interval`` seconds, so changes made anywhere (the CLI in another
terminal) show up within a second.  It runs in one long-lived thread, so
it holds one SQLite connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from textual import work
from textual.worker import get_current_worker

from engine.errors import EngineError
from engine.images.reference import parse

from .plan import plan_delete
from .state import (
    AnalysisLoaded,
    ContainerChanged,
    ContainerCommitted,
    DeletePlanned,
    DiskLoaded,
    EngineFailed,
    EngineState,
    HistoryLoaded,
    ImagesRemoved,
    ImageTagged,
    InspectLoaded,
    LayersLoaded,
    Pruned,
    StateLoaded,
    StatsSampled,
    WritableSampled,
    load_disk_usage,
    load_state,
    prune,
    refresh_sizes,
)

if TYPE_CHECKING:
    from textual.message import Message
    from textual.message_pump import MessagePump

    from engine import Engine
    from engine.runtime.options import CreateOptions

    from .model import ImageRef
    from .screens.build import BuildRequest

__all__ = ["STOP_TIMEOUT", "EngineWorkers"]

STOP_TIMEOUT = 10  # seconds, as docker stop
AGE_REFRESH = 5.0  # seconds between redraws of an unchanged state (its ages)
SIZE_REFRESH = 3.0  # seconds between measurements of the writable layers


class EngineWorkers:
    """Mixed into the App: ``self`` is the App, so worker errors reach its
    one ``on_worker_state_changed`` handler."""

    engine: Engine
    refresh_interval: float
    poll_interval: float
    _wake: threading.Event
    _stopping: threading.Event
    stats_wanted: bool = True  # the Containers pane shows (set by the main screen)

    if TYPE_CHECKING:
        def post_message(self, message: Message) -> bool: ...

    def request_refresh(self) -> None:
        self._wake.set()

    def stop_live(self) -> None:
        self._stopping.set()
        self._wake.set()

    @work(thread=True, exclusive=True, exit_on_error=False, group="live")
    def live(self) -> None:
        """The whole state on each batch of events (or when asked); between
        them, every ``SIZE_REFRESH`` seconds, only what changes without events
        (writable-layer sizes, free disk); and an unchanged state is posted
        again only every ``AGE_REFRESH`` seconds, for the "Up 3 minutes" texts.
        An idle screen so costs next to nothing."""
        worker = get_current_worker()
        last = self.engine.last_event_id()
        due, reported = 0.0, ""
        state: EngineState | None = None
        posted = 0.0
        while not worker.is_cancelled and not self._stopping.is_set():
            try:
                events = self.engine.events_after(last)
                if events:
                    last = events[-1].id
                asked = self._wake.is_set()
                self._wake.clear()
                now = time.monotonic()
                fresh = None
                if events or asked or state is None:
                    fresh = load_state(self.engine, last)
                elif now >= due:
                    fresh = refresh_sizes(self.engine, state)
                if fresh is not None:
                    # sizes walk every writable layer: each few seconds is live
                    # enough (the selected container has its own 1 s sampler)
                    due = now + max(self.refresh_interval, SIZE_REFRESH)
                    if fresh != state or events or asked or now - posted >= AGE_REFRESH:
                        state, posted = fresh, now
                        self.post_message(StateLoaded(state, len(events)))
                reported = ""
            except (EngineError, sqlite3.Error, OSError) as e:
                err = e if isinstance(e, EngineError) else EngineError(f"live updates: {e}")
                if str(err) != reported:  # once per distinct failure, then keep trying
                    reported = str(err)
                    self.post_message(EngineFailed(err))
                due = time.monotonic() + self.refresh_interval
            self._wake.wait(self.poll_interval)

    @work(thread=True, exclusive=True, exit_on_error=False, group="layers")
    def load_layers(self, image_id: str) -> None:
        layers = self.engine.image_layers(image_id)
        total = len(self.engine.images())
        self.post_message(LayersLoaded(image_id, layers, total))

    @work(thread=True, exclusive=True, exit_on_error=False, group="layers.analyze")
    def load_analysis(self, image_id: str) -> None:
        self.post_message(AnalysisLoaded(image_id, self.engine.image_analyze(image_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="layers.tree")
    def load_family_tree(self) -> None:
        from .state import FamilyTreeLoaded

        roots = self.engine.image_tree()
        self.post_message(FamilyTreeLoaded(roots, tuple(self.engine.containers(all=True))))

    _layer_files_cancel: threading.Event | None = None

    def load_layer_files(self, image_id: str, index: int, *, aggregated: bool = False) -> None:
        """Start the file tree of one layer; the one still running for
        another layer stops at its next check (the cursor moved on)."""
        if self._layer_files_cancel is not None:
            self._layer_files_cancel.set()
        cancel = self._layer_files_cancel = threading.Event()
        self._load_layer_files(image_id, index, aggregated, cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="layers.files")
    def _load_layer_files(self, image_id: str, index: int, aggregated: bool,
                          cancel: threading.Event) -> None:
        from collections import Counter

        from engine.errors import Cancelled
        from engine.usage.filetree import file_tree

        from .state import LayerFilesLoaded

        try:
            changes = self.engine.layer_changes(image_id, index, aggregated=aggregated,
                                                unchanged=True, cancel=cancel)
            root = file_tree(changes)
        except Cancelled:
            return
        counts = dict(Counter(c.change for c in changes if c.change != "unchanged"))
        if not cancel.is_set():
            self.post_message(LayerFilesLoaded(image_id, index, aggregated, root, counts))

    @work(thread=True, exclusive=True, exit_on_error=False, group="disk")
    def load_disk(self) -> None:
        self.post_message(DiskLoaded(load_disk_usage(self.engine)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.history")
    def load_history(self, ref: str) -> None:
        self.post_message(HistoryLoaded(ref, self.engine.history(ref)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.inspect")
    def load_inspect(self, ref: str) -> None:
        self.post_message(InspectLoaded(ref, self.engine.image_inspect(ref)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.tag")
    def tag_image(self, source: str, target: str) -> None:
        image_id = self.engine.tag(source, target)
        self.post_message(ImageTagged(image_id, parse(target).tagged_or_latest().familiar()))
        self.request_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.plan")
    def plan_delete(self, targets: list[ImageRef]) -> None:
        self.post_message(DeletePlanned(plan_delete(self.engine, targets)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.delete")
    def remove_images(self, refs: list[str]) -> None:
        """``rmi`` each ref in turn, like the CLI: report what went, then
        raise the first failure (the rest still ran)."""
        lines: list[str] = []
        failed: EngineError | None = None
        for ref in refs:
            try:
                lines += self.engine.remove_image(ref)
            except EngineError as e:
                failed = failed or e
        self.post_message(ImagesRemoved(lines))
        self.request_refresh()
        if failed:
            raise failed

    # -- containers -------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="container.action")
    def container_action(self, actions: list[tuple[str, str]], *,
                         volumes: bool = False) -> None:
        """Each (verb, container ID) in turn — verb is start, stop, restart,
        pause, unpause or remove — then raise the first failure (the rest
        still ran), as the CLI does with several containers."""
        eng = self.engine
        failed: EngineError | None = None
        for verb, container_id in actions:
            try:
                if verb == "remove":
                    eng.remove_container(container_id, force=True, volumes=volumes)
                elif verb in ("stop", "restart"):
                    getattr(eng, verb)(container_id, timeout=STOP_TIMEOUT)
                else:
                    getattr(eng, verb)(container_id)
                self.post_message(ContainerChanged(verb, container_id))
            except EngineError as e:
                failed = failed or e
        self.request_refresh()
        if failed:
            raise failed

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.commit")
    def commit_container(self, container_id: str, reference: str, message: str) -> None:
        image_id = self.engine.commit(container_id, reference or None, message=message)
        shown = parse(reference).tagged_or_latest().familiar() if reference else ""
        self.post_message(ContainerCommitted(image_id, shown))
        self.request_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="disk.prune")
    def run_prune(self, kind: str) -> None:
        self.post_message(Pruned(kind, prune(self.engine, kind, dry_run=False)))
        self.request_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.sample")
    def sample_writable(self, container_id: str) -> None:
        """Sample the container's writable layer every second (at most
        ``refresh_interval``) until another container is picked or the App stops."""
        worker = get_current_worker()
        sampler = self.engine.writable_sampler(container_id)
        try:
            while not worker.is_cancelled and not self._stopping.is_set():
                sample = sampler.sample()
                sizes = [s.apparent for s in sampler.history]
                self.post_message(WritableSampled(container_id, sample, sizes))
                self._stopping.wait(min(self.refresh_interval, 1.0))
        finally:
            sampler.close()

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.stats")
    def sample_stats(self) -> None:
        """CPU % and memory of every running container, once per refresh, in
        one engine pass (one query, no subprocess) until the App stops.  CPU %
        needs two readings, so the second comes soon after the first."""
        from engine.runtime.stats import compute

        worker = get_current_worker()
        prev: dict = {}
        wait, reported = min(self.refresh_interval, 0.5), ""
        while not worker.is_cancelled and not self._stopping.is_set():
            if not self.stats_wanted:  # nobody sees the columns: sample nothing
                prev, wait = {}, min(self.refresh_interval, 0.5)
                self._stopping.wait(0.2)
                continue
            try:
                cur = self.engine.stats_samples(io=False)
                stats = {cid: compute(prev[cid], s) for cid, s in cur.items()
                         if s.running and cid in prev}
                if stats or prev:
                    self.post_message(StatsSampled(stats))
                prev, reported = cur, ""
            except (EngineError, sqlite3.Error, OSError) as e:
                err = e if isinstance(e, EngineError) else EngineError(f"container stats: {e}")
                if str(err) != reported:  # once per distinct failure, then keep trying
                    reported = str(err)
                    self.post_message(EngineFailed(err))
            self._stopping.wait(wait)
            wait = self.refresh_interval

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.run")
    def run_container(self, opts: CreateOptions) -> None:
        """``run -d``: create, then start; a failed start leaves the created
        container, as docker does."""
        cid = self.engine.create(opts)
        self.request_refresh()
        self.engine.start(cid)
        self.post_message(ContainerChanged("run", cid))
        self.request_refresh()

    # -- build, pull, push (the Images pane's b, u, P): each reports to its screen ----
    @work(thread=True, exclusive=True, exit_on_error=False, group="image.build.check")
    def check_build(self, view: MessagePump, request: BuildRequest) -> None:
        """The build form's paths and tags, checked off the UI thread."""
        from .screens.build import check_request
        from .state import BuildChecked

        try:
            view.post_message(BuildChecked(check_request(request)))
        except EngineError as e:
            view.post_message(BuildChecked(request, str(e)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.build")
    def run_build(self, view: MessagePump, request: BuildRequest,
                  cancel: threading.Event) -> None:
        """Iterate the engine's build generator, each event to ``view``.  A
        failure goes to the view (the step's output, the excerpt) and then,
        raised, to the one error dialog; a cancelled build only to the view."""
        from engine.errors import Cancelled

        from .state import BuildFinished, BuildProgress

        image_id = ""
        try:
            for event in self.engine.build(
                    request.context, dockerfile=request.dockerfile_path, tags=request.tags,
                    build_args=dict(request.build_args), no_cache=request.no_cache,
                    cancel=cancel):
                view.post_message(BuildProgress(event))
                if event.kind == "result":
                    image_id = event.image_id
        except Cancelled:
            view.post_message(BuildFinished(cancelled=True))
            return
        except EngineError as e:
            view.post_message(BuildFinished(error=e))
            raise
        finally:
            self.request_refresh()
        view.post_message(BuildFinished(image_id))

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.pull")
    def pull_image(self, view: MessagePump, reference: str, *, tls_verify: bool = True,
                   cancel: threading.Event | None = None) -> None:
        self._transfer(view, "pull", reference, tls_verify, cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="image.push")
    def push_image(self, view: MessagePump, reference: str, *, tls_verify: bool = True,
                   cancel: threading.Event | None = None) -> None:
        self._transfer(view, "push", reference, tls_verify, cancel)

    def _transfer(self, view: MessagePump, verb: str, reference: str, tls_verify: bool,
                  cancel: threading.Event | None) -> None:
        """A pull or push with each progress report posted to ``view``; a
        failure is posted, then raised for the one error dialog."""
        from engine.errors import Cancelled

        from .state import TransferFinished, TransferProgress

        def progress(p: object) -> None:
            view.post_message(TransferProgress(p))

        ref = parse(reference)
        shown = (ref if ref.digest else ref.tagged_or_latest()).familiar()
        image_id = ""
        try:
            if verb == "pull":
                result = self.engine.pull(reference, tls_verify=tls_verify, progress=progress,
                                          cancel=cancel)
                image_id = result.image_ids[-1]
            else:
                self.engine.push(reference, tls_verify=tls_verify, progress=progress,
                                 cancel=cancel)
        except Cancelled:
            view.post_message(TransferFinished(verb, cancelled=True))
            return
        except EngineError as e:
            view.post_message(TransferFinished(verb, error=str(e)))
            raise
        finally:
            self.request_refresh()
        view.post_message(TransferFinished(verb, image_id=image_id, reference=shown))
