"""The build: a Dockerfile and a context in, an image (and progress events) out.

``build(engine, options)`` is a generator of ``BuildEvent``s, in the order
BuildKit's plain progress shows them:

1. ``[internal] load build definition`` — read and parse the Dockerfile,
   check every instruction, split it into stages;
2. ``[internal] load metadata for …`` — resolve each base image (pulled
   only when it is not in the store);
3. ``[internal] load .dockerignore`` and, the first time a step needs it,
   ``[internal] load build context`` — the context is walked once, through
   the ignore filter, and shared by every stage;
4. the steps of the target stage and of the stages it needs (``FROM
   <stage>``, ``COPY --from``, ``RUN --mount from=``), in file order, each
   ``CACHED`` or run;
5. ``exporting to image`` — the config and history are written as BuildKit
   writes them and the image and its tags are recorded in one transaction.

The whole build holds a lease, so a concurrent prune cannot take a layer it
is using.  Nothing is recorded as an image before step 5: a failed build
leaves its finished steps in the build cache (``builder prune`` removes
them) and no image.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack

from engine.build import DockerfileError, parse
from engine.build.addcopy import copy_step
from engine.build.cache import BuildCache, cache_key
from engine.build.context import HashCache, Tree
from engine.build.dockerignore import ignore_file_for, read_patterns
from engine.build.events import BuildError, BuildEvent, BuildOptions, source_excerpt
from engine.build.instructions import Command, Stage, check_command, parse_stages
from engine.build.layer import mount_chain
from engine.build.plan import Plan
from engine.build.remote import is_remote
from engine.build.stage import StageState, image_json
from engine.build.steps import run_cmd, workdir_step
from engine.build.vertices import Progress
from engine.errors import Cancelled, EngineError, InvalidArgument, InvalidReference, NotFound
from engine.humanize import size_text
from engine.images.config import chain_ids, parse_rfc3339
from engine.images.reference import default_platform, parse_platform
from engine.images.reference import parse as parse_ref
from engine.images.unpack import NewImage, layer_size, record_image
from engine.store import Lease

__all__ = ["Builder", "build"]

LAYER_STEPS = ("run", "copy", "add", "workdir")


def build(engine, opts: BuildOptions) -> Iterator[BuildEvent]:  # noqa: ANN001
    """Build ``opts``; the last event is ``result`` with the image ID."""
    return Builder(engine, opts).run()


class Builder:
    def __init__(self, engine, opts: BuildOptions) -> None:  # noqa: ANN001
        self.engine = engine
        self.opts = opts
        self.store = engine.store
        self.snapshots = engine.snapshots
        self.images = engine.image_store
        self.progress = Progress()
        self.cache = BuildCache(self.store, self.snapshots)
        self.lease: Lease = None  # type: ignore[assignment]  # set while run() holds it
        self.views = ExitStack()
        self.trees: dict[str, Tree] = {}
        self.context: Tree | None = None
        self.context_ref = ""
        self.results: dict[int, StageState] = {}
        self.stages: list[Stage] = []
        self.plan = Plan(opts, [], "\\")
        self.bases: dict[int, tuple[str, str, str]] = {}  # stage → (kind, id, shown name)
        self.external: dict[str, tuple[str, str]] = {}  # --from image → (id, shown name)
        self.meta: dict[str, str] = {}
        self.source = ""
        self.file = "Dockerfile"
        self.escape = "\\"
        self.hashes = HashCache(None)
        self.ignore: list[str] = []

    # -- the generator -------------------------------------------------------------
    def run(self) -> Iterator[BuildEvent]:
        with self.store.leases.hold() as lease:
            self.lease = lease
            try:
                yield from self._build()
            except Cancelled:
                for n in list(self.progress.open):
                    yield self.progress.event("error", n, text="cancelled")
                raise
            except (BuildError, DockerfileError, EngineError) as e:
                err = self._as_build_error(e)
                for n in list(self.progress.open):
                    err.vertex_name = err.vertex_name or self.progress.names[n]
                    err.logs = err.logs or list(self.progress.logs[n])
                    yield self.progress.event("error", n, text=err.reason)
                raise err from None
            finally:
                self.views.close()
                included = self.context.included if self.context is not None else None
                self.hashes.save(set(included) if included is not None else None)

    def _as_build_error(self, e: Exception) -> BuildError:
        if isinstance(e, BuildError):
            err = e
        elif isinstance(e, DockerfileError):
            err = BuildError(str(e), file=e.file, line=e.line, end_line=e.end_line)
        else:
            err = BuildError(str(e))
            err.exit_code = getattr(e, "exit_code", 1)
        err.file = self.file
        if err.line and not err.excerpt and self.source:
            err.excerpt = source_excerpt(self.source, self.file, err.line, err.end_line)
        return err

    def _check_cancel(self) -> None:
        if self.opts.cancel is not None and self.opts.cancel.is_set():
            raise Cancelled("build cancelled")

    def _build(self) -> Iterator[BuildEvent]:
        for tag in self.opts.tags:
            parse_ref(tag)  # a bad -t fails before anything runs
        yield from self._load_definition()
        df = parse(self.source, file=self.file)
        self.escape = df.escape
        meta_cmds, self.stages = parse_stages(df)
        self.plan = Plan(self.opts, self.stages, df.escape)
        self.plan.meta_args(meta_cmds)
        self.meta = self.plan.meta
        target = self.plan.target()
        needed = self.plan.reachable(target)
        yield from self._resolve_bases(needed)
        yield from self._load_ignore()
        for stage in self.stages:
            if stage.index in needed:
                self._check_cancel()
                yield from self._dispatch(stage)
        yield from self._export(self.results[target.index])

    # -- 1. the Dockerfile --------------------------------------------------------------
    def _load_definition(self) -> Iterator[BuildEvent]:
        opts = self.opts
        path = opts.dockerfile or os.path.join(opts.context, "Dockerfile")
        self.file = "Dockerfile" if opts.dockerfile_text is not None else os.path.basename(path)
        n = self.progress.start(f"[internal] load build definition from {self.file}")
        yield self.progress.event("start", n)
        if opts.dockerfile_text is not None:
            data = opts.dockerfile_text.encode()
        else:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                raise BuildError(f"failed to read dockerfile: open {path}: no such file or "
                                 "directory") from None
        self.source = data.decode("utf-8", "surrogateescape")
        yield self.progress.event("status", n, text=f"transferring dockerfile: "
                                  f"{size_text(len(data))} done")
        if not data.strip():
            raise BuildError("the Dockerfile cannot be empty")
        yield self.progress.event("done", n)

    # -- 2. base images -----------------------------------------------------------------
    def _image(self, ref: str, platform: str = "") -> Iterator[BuildEvent]:
        """Resolve an image (pulling it if it is not here, or always with ``--pull``)."""
        try:
            shown = str(parse_ref(ref).tagged_or_latest())
        except InvalidReference:
            shown = ref
        n = self.progress.start(f"[internal] load metadata for {shown}")
        yield self.progress.event("start", n)
        image_id = ""
        if not self.opts.pull:
            try:
                image_id = self.images.resolve(ref)
            except NotFound:
                pass
        if not image_id:
            try:
                self.engine.pull(ref, platform=platform or self.opts.platform or None,
                                 cancel=self.opts.cancel)
                image_id = self.images.resolve(ref)
            except Cancelled:
                raise
            except EngineError as e:
                raise BuildError(f"{ref}: failed to resolve source metadata for {shown}: "
                                 f"{e}") from None
        yield self.progress.event("done", n)
        top = self.images.record(image_id).top_layer
        if top:
            self.lease.add("layer", top)
        self.external[ref] = (image_id, shown)

    def _resolve_bases(self, needed: set[int]) -> Iterator[BuildEvent]:
        for stage in self.stages:
            if stage.index not in needed:
                continue
            if stage.base.lower() == "scratch":
                self.bases[stage.index] = ("scratch", "", "")
                continue
            base = self.plan.stage_named(stage.base, stage.index) if not stage.base.isdigit() \
                else None
            if base is not None:
                self.bases[stage.index] = ("stage", str(base.index), base.name)
                continue
            if stage.base not in self.external:
                platform = ""
                if stage.platform:
                    platform = self.plan.expand_meta(stage.platform, stage)
                    try:
                        platform = str(parse_platform(platform))
                    except InvalidArgument as e:
                        raise BuildError(f"failed to parse platform {stage.platform}: {e}",
                                         line=stage.inst.line) from None
                yield from self._image(stage.base, platform)
            image_id, shown = self.external[stage.base]
            self.bases[stage.index] = ("image", image_id, shown)
        for stage in self.stages:
            if stage.index in needed:
                for ref in Plan.sources(stage.commands):
                    if self.plan.stage_named(ref, len(self.stages)) is None and \
                            ref not in self.external:
                        yield from self._image(ref)

    # -- 3. the context ------------------------------------------------------------------
    def _load_ignore(self) -> Iterator[BuildEvent]:
        n = self.progress.start("[internal] load .dockerignore")
        yield self.progress.event("start", n)
        path = ignore_file_for(self.opts.context, self.opts.dockerfile or None)
        text = ""
        if path is not None:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        self.ignore = read_patterns(text)
        yield self.progress.event("status", n, text=f"transferring context: "
                                  f"{size_text(len(text.encode('utf-8', 'surrogateescape')) or 2)}"
                                  " done")
        yield self.progress.event("done", n)

    def _load_context(self) -> Iterator[BuildEvent]:
        if self.context is not None:
            return
        n = self.progress.start("[internal] load build context")
        yield self.progress.event("start", n)
        import hashlib

        root = os.path.abspath(self.opts.context)
        digest = hashlib.sha256(root.encode()).hexdigest()
        self.hashes = HashCache(self.store.path("build", "context", digest[:32] + ".json"))
        self.context = Tree.context(root, self.ignore, self.hashes)
        self.context_ref = digest[:25]
        yield self.progress.event("status", n, text="transferring context: "
                                  f"{size_text(self.context.transfer_size())} done")
        yield self.progress.event("done", n)

    def _needs_context(self, cmd: Command) -> bool:
        if cmd.keyword in ("copy", "add"):
            return not cmd.flag("from") and any(not is_remote(s)
                                                for s in cmd.sources_and_dest()[0])
        if cmd.keyword == "run":
            for spec in cmd.multi.get("mount", []):
                fields = dict(p.partition("=")[::2] for p in spec.split(","))
                if fields.get("type", "bind") == "bind" and not fields.get("from"):
                    return True
        return False

    def source_tree(self, st: StageState, name: str, cmd: Command) -> Tree:
        """What COPY --from / RUN --mount from= reads: the context, a stage or an image."""
        if not name:
            assert self.context is not None
            return self.context
        if "$" in name:
            raise st.error("variable expansion is not supported for --from, define a new "
                           "stage with FROM using ARG from global scope as a workaround", cmd)
        stage = self.plan.stage_named(name, len(self.stages))
        if stage is not None:
            if stage.index not in self.results:
                raise st.error(f'cannot copy from stage "{name}", it needs to be defined '
                               f'before current stage "{st.name}"', cmd)
            chain, label = self.results[stage.index].chain, f"stage {stage.index}"
        else:
            if name not in self.external:
                for _ in self._image(name):
                    pass
            image_id = self.external[name][0]
            chain, label = self.images.record(image_id).top_layer, f"image {image_id}"
        if label not in self.trees:
            root = self.views.enter_context(mount_chain(self.store, self.snapshots, chain))
            self.trees[label] = Tree(root, owners=True, name=label)
        return self.trees[label]

    # -- 4. stages -------------------------------------------------------------------------
    def _stage_name(self, stage: Stage) -> str:
        count = len(self.stages) + len([r for r in self.external if r not in
                                         {s.base for s in self.stages}])
        if count == 1:
            return ""
        return stage.name or f"stage-{stage.index}"

    def _dispatch(self, stage: Stage) -> Iterator[BuildEvent]:
        kind, ident, shown = self.bases[stage.index]
        name = self._stage_name(stage)
        triggers: list[str] = []
        if kind == "stage":
            base = self.results[int(ident)]
            triggers = list(base.config.get("OnBuild") or [])
            st = base.derive(name)
        elif kind == "scratch":
            st = StageState(name=name, escape=self.escape, key=cache_key("scratch"))
            plat = default_platform()
            st.platform = {"architecture": plat.architecture, "os": plat.os}
            if plat.variant:
                st.platform["variant"] = plat.variant
            st.ensure_path()
        else:
            raw = self.images.config(ident).raw
            triggers = list((raw.get("config") or {}).get("OnBuild") or [])
            st = StageState.from_image(raw, name=name, escape=self.escape)
            st.chain = self.images.record(ident).top_layer
            st.key = cache_key("image", ident)
        commands = [self._trigger(t, stage) for t in triggers] + stage.commands
        st.cmd_total = (1 if kind == "image" else 0) + sum(
            1 for c in commands if c.keyword in LAYER_STEPS)
        if kind == "image":
            digest = self.images.record(ident).manifest_digest
            n = self.progress.start(st.title(f"FROM {shown}" + (f"@{digest}" if digest and
                                                                 "@" not in shown else "")))
            yield self.progress.event("start", n)
            yield self.progress.event("cached", n)
        for cmd in commands:
            self._check_cancel()
            kw = cmd.keyword
            if self._needs_context(cmd):
                yield from self._load_context()
            if kw == "run":
                yield from run_cmd(self, st, cmd)
            elif kw in ("copy", "add"):
                yield from copy_step(self, st, cmd)
            elif kw == "workdir":
                wd = st.set_workdir(cmd)
                if wd == "/":
                    st.commit("WORKDIR /", layer=False)
                else:
                    yield from workdir_step(self, st, cmd, wd)
            else:
                st.apply(cmd, dict(self.opts.build_args), self.meta)
        self.results[stage.index] = st

    def _trigger(self, text: str, stage: Stage) -> Command:
        """An ONBUILD trigger of the base image, placed on the FROM line (as BuildKit does)."""
        try:
            df = parse(text, file=self.file)
        except DockerfileError as e:
            raise BuildError(e.reason, line=stage.inst.line) from None
        if len(df.instructions) != 1:
            raise BuildError("onbuild trigger should be a single expression",
                             line=stage.inst.line)
        from dataclasses import replace

        inst = replace(df.instructions[0], line=stage.inst.line, end_line=stage.inst.end_line)
        cmd = check_command(inst, self.file)
        cmd.onbuild = True
        return cmd

    # -- 5. the image ------------------------------------------------------------------------
    def _export(self, st: StageState) -> Iterator[BuildEvent]:
        n = self.progress.start("exporting to image")
        yield self.progress.event("start", n)
        if self.opts.labels:
            st.config.setdefault("Labels", {}).update(self.opts.labels)
        yield self.progress.event("status", n, text="exporting layers done")
        data = image_json(st, [])
        store = self.store
        digest, size = store.blobs.ingest_bytes(
            data, before_rename=lambda d: self.lease.add("blob", d))
        chains = chain_ids(st.diff_ids)
        if chains and chains[-1] != st.chain:
            raise BuildError(f"internal error: layer chain {st.chain} does not match the "
                             f"image's DiffIDs ({chains[-1]})")
        import json

        created = json.loads(data).get("created")
        tags = [parse_ref(t).tagged_or_latest() for t in self.opts.tags]
        img = NewImage(config_digest=digest, diff_ids=list(st.diff_ids),
                       created=parse_rfc3339(created) if created else time.time(),
                       chains=chains, tags=tags, action="build")
        img.size = layer_size(store, chains)
        img.blobs[digest] = (size, "application/vnd.oci.image.config.v1+json")
        record_image(store, img, set_tag=self.images.set_tag)
        yield self.progress.event("status", n, text=f"writing image {digest} done")
        for t in tags:
            yield self.progress.event("status", n, text=f"naming to {t} done")
        yield self.progress.event("done", n)
        yield BuildEvent("result", 0, "", digest, 0.0, 0, digest)
