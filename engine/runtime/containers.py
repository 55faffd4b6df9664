"""The container service: create, start, stop, kill, pause, remove, wait.

A container is a ``containers`` row, an active snapshot keyed by its ID
(its writable layer, whose upper dir is the diff), and ``containers/<id>/``
holding ``config.json`` (the OCI bundle), ``rootfs/`` (the overlay mount
while it runs), ``container.log``, ``monitor.json`` and ``attach.sock``.
State changes while running are written by the monitor; everything else
here.  See ``engine/runtime/__init__.py`` for the state machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal as _signal
import sys
import time
from collections.abc import Callable

from ..errors import (
    AlreadyExists,
    Conflict,
    EngineError,
    InvalidArgument,
    NotFound,
    StartFailed,
)
from ..images.store import ImageStore
from ..network import Attachment, AttachRequest, NetworkDriver
from ..snapshots import OverlaySnapshotter
from ..snapshots.mount import is_mountpoint, mount_all, unmount
from ..snapshots.overlay import remove_tree
from ..store import Store
from ..store.events import emit
from ..volumes import VolumeStore
from . import launcher
from . import mounts as mountspec
from .bundle import check_command, make_spec
from .names import random_name
from .oci import Runtime
from .options import CreateOptions, container_config, validate
from .procfs import alive

ENGINE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIVE = ("running", "paused", "restarting")


class Containers:
    def __init__(self, store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 volumes: VolumeStore, runtime: Callable[[str], Runtime],
                 network: Callable[[], NetworkDriver | None] = lambda: None) -> None:
        self.network = network  # the driver for modes other than none/host
        self.store = store
        self.db = store.db
        self.snapshots = snapshots
        self.images = images
        self.volumes = volumes
        self.runtime = runtime  # name ("" = default) → Runtime

    # -- lookups ---------------------------------------------------------
    def dir(self, cid: str) -> str:
        return self.store.path("containers", cid)

    def socket_path(self, cid: str, rt: Runtime | None = None) -> str:
        """The monitor's attach socket: short, under the runtime state dir."""
        rt = rt or self.runtime("")
        d = os.path.join(os.path.dirname(rt.state_dir), "sock")
        os.makedirs(d, mode=0o700, exist_ok=True)
        return os.path.join(d, cid[:24])

    def resolve(self, ref: str) -> str:
        ref = ref.lstrip("/")
        row = self.db.one("SELECT id FROM containers WHERE id = ? OR name = ?", (ref, ref))
        if row:
            return row["id"]
        if ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.query("SELECT id FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) == 1:
                return rows[0]["id"]
            if len(rows) > 1:
                raise Conflict(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def row(self, cid: str):
        row = self.db.one("SELECT * FROM containers WHERE id = ?", (cid,))
        if row is None:
            raise NotFound(f"No such container: {cid}")
        return self.reconcile(row)

    def reconcile(self, row):
        """A live state whose monitor is gone (crash, reboot) becomes exited."""
        if row["state"] not in LIVE or alive(row["monitor_pid"]):
            return row
        with self.db.write() as c:
            c.execute("UPDATE containers SET state = 'exited', exit_code = CASE WHEN exit_code "
                      "= 0 THEN 255 ELSE exit_code END, pid = 0, monitor_pid = 0, "
                      "finished_at = ?, error = 'the container monitor exited unexpectedly' "
                      "WHERE id = ? AND state = ?", (time.time(), row["id"], row["state"]))
            emit(c, "container", "die", row["id"], exitCode="255")
        self._teardown(row["id"], json.loads(row["host_config"]).get("Runtime", ""))
        return self.db.one("SELECT * FROM containers WHERE id = ?", (row["id"],))

    # -- create ------------------------------------------------------------
    def create(self, opts: CreateOptions) -> str:
        validate(opts)
        if opts.network not in ("none", "host"):  # refuse a bad -p or network up front
            driver = self.network()
            if driver is not None:
                driver.validate(opts.network, opts.network_aliases, opts.publish,
                                opts.publish_all)
        image_id = self.images.resolve(opts.image)
        rec = self.images.record(image_id)
        image_cfg = self.images.config(image_id).raw
        config, host = container_config(opts, image_cfg, opts.image)
        if not (config["Cmd"] or config["Entrypoint"]):
            raise InvalidArgument("no command specified")
        if opts.network not in ("none", "host") and self.network() is None:
            raise InvalidArgument(f'network "{opts.network}" is not available yet: use '
                                  "--network none or --network host")
        specs = mountspec.parse_all(opts.volumes, opts.mounts, opts.tmpfs,
                                    list((config.get("Volumes") or {}).keys()))
        cid = os.urandom(32).hex()
        name = opts.name.lstrip("/") or self._free_name()
        config["Hostname"] = config["Hostname"] or cid[:12]
        os.makedirs(self.dir(cid), mode=0o700)
        try:
            self.snapshots.prepare(cid, rec.top_layer, labels={"container": cid})
            vols = []
            for m in specs:
                if m.type == "volume":
                    made = self.volumes.create(m.source, anonymous=not m.source)
                    vols.append((made.name, m.target))
            host["MountSpecs"] = [
                {"Type": m.type, "Source": dict(vols).get(m.target, m.source)
                 if m.type != "volume" else next(v for v, t in vols if t == m.target),
                 "Target": m.target, "ReadOnly": m.readonly, "Options": list(m.options)}
                for m in specs]
            with self.db.write() as c:
                taken = c.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
                if taken:
                    raise AlreadyExists(
                        f'Conflict. The container name "/{name}" is already in use by container '
                        f'"{taken["id"]}". You have to remove (or rename) that container to be '
                        "able to reuse that name.")
                c.execute("INSERT INTO containers (id, name, image, image_id, created, config, "
                          "host_config) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (cid, name, opts.image, image_id, time.time(), json.dumps(config),
                           json.dumps(host)))
                for vol, target in vols:
                    c.execute("INSERT INTO container_volumes VALUES (?, ?, ?)", (cid, vol, target))
                emit(c, "container", "create", cid, name=name, image=opts.image)
        except BaseException:
            if self.snapshots.exists(cid):
                self.snapshots.remove(cid)
            remove_tree(self.dir(cid))
            raise
        return cid

    def _free_name(self) -> str:
        for retry in range(10):
            name = random_name(retry=retry)
            if not self.db.one("SELECT 1 FROM containers WHERE name = ?", (name,)):
                return name
        return "c" + os.urandom(6).hex()

    # -- start -------------------------------------------------------------
    def start(self, cid: str, *, wait_attach: bool = False):
        """Start ``cid``; with ``wait_attach`` return a connected AttachClient."""
        row = self.row(cid)
        if row["state"] in ("running", "restarting"):
            return None
        if row["state"] == "paused":
            raise Conflict("cannot start a paused container, try unpause instead")
        config = json.loads(row["config"])
        host = json.loads(row["host_config"])
        rt = self.runtime(host.get("Runtime", ""))
        bundle = self.dir(cid)
        rootfs = os.path.join(bundle, "rootfs")
        os.makedirs(rootfs, exist_ok=True)
        if not is_mountpoint(rootfs):
            mount_all(self.snapshots.mounts(cid), rootfs)
        att = None
        try:
            net = host.get("NetworkMode", "none")
            if net not in ("none", "host"):
                att = self._attach(cid, row["name"], config, host)
            spec = make_spec(cid, config, host, rootfs, bundle_dir=self.dir(cid),
                             volumes=self.volumes, att=att)
            check_command(rootfs, spec["process"])
            with open(os.path.join(bundle, "config.json"), "w") as f:
                f.write(json.dumps(spec))  # not json.dump: it encodes in pure Python
            log = host.get("LogConfig", {}).get("Config", {})
            from .options import parse_size

            conf = {"runtime_path": rt.info.path, "runtime_state": rt.state_dir,
                    "runtime_name": rt.info.name, "attach_socket": self.socket_path(cid, rt),
                    "tty": bool(config.get("Tty")), "open_stdin": bool(config.get("OpenStdin")),
                    "restart": _policy(host), "auto_remove": bool(host.get("AutoRemove")),
                    "cgroup_path": spec["linux"]["cgroupsPath"],
                    "log_max_size": parse_size(log["max-size"]) if log.get("max-size") else 0,
                    "log_max_file": int(log.get("max-file", 1)),
                    # an auto-removed container's network goes with its `rm`: no hook
                    "on_exit": self.on_exit_hook(cid, att.token)
                    if att and not host.get("AutoRemove") else [],
                    "ports": att.extra.get("proxy") if att else None,  # the monitor's proxy
                    "pythonpath": ENGINE_PARENT}
            with open(os.path.join(bundle, "monitor.json"), "w") as f:
                f.write(json.dumps(conf))
            with self.db.write() as c:
                c.execute("UPDATE containers SET stopped_by_user = 0, error = '' WHERE id = ?",
                          (cid,))
            return self._launch(cid, wait_attach)
        except BaseException:
            now = self.db.one("SELECT state FROM containers WHERE id = ?", (cid,))
            if now is None or now["state"] not in LIVE:
                unmount(rootfs, detach=True)
                self._detach(cid)
            raise

    def _launch(self, cid: str, wait_attach: bool):
        proc = launcher.launch(self.store.root, cid, wait_attach=wait_attach)
        assert proc.stdout is not None
        client = None
        try:
            line = proc.stdout.readline().decode().strip()
            if wait_attach and line == "listening":
                from .attach import AttachClient

                client = AttachClient.connect(self.socket_path(cid))
                line = proc.stdout.readline().decode().strip()
        finally:
            proc.stdout.close()
            proc.wait()
        if line.startswith("ok"):
            return client
        if client is not None:
            client.close()
        msg = line.partition(" ")[2] or "the container monitor did not start"
        row = self.db.one("SELECT exit_code FROM containers WHERE id = ?", (cid,))
        raise StartFailed(_runtime_message(msg), exit_code=row["exit_code"] if row else 125)

    # -- networking hook (see engine/network/__init__.py) ---------------------
    def _attach(self, cid: str, name: str, config: dict, host: dict) -> Attachment:
        driver = self.network()
        if driver is None:
            raise InvalidArgument(f'network "{host.get("NetworkMode")}" is not available')
        att = driver.attach(AttachRequest(
            cid=cid, name=name, hostname=config.get("Hostname") or cid[:12],
            network=host.get("NetworkMode", "bridge"),
            aliases=host.get("NetworkAliases") or (), publish=host.get("PortBindings") or (),
            publish_all=bool(host.get("PublishAllPorts")),
            exposed=list((config.get("ExposedPorts") or {}).keys())))
        with open(os.path.join(self.dir(cid), "network.json"), "w") as f:
            f.write(json.dumps({**dataclasses.asdict(att),
                                "ports": [str(p) for p in att.ports]}))
        return att

    def _detach(self, cid: str) -> None:
        path = os.path.join(self.dir(cid), "network.json")
        if not os.path.exists(path):
            return
        driver = self.network()
        if driver is not None:
            driver.detach(cid)
        try:
            os.unlink(path)
        except FileNotFoundError:  # the monitor's release hook got there first
            pass

    def on_exit_hook(self, cid: str, token: str) -> list[str]:
        """What the monitor runs after the final exit: release this attachment."""
        return [sys.executable, "-m", "engine", "--root", self.store.root, "system",
                "release-network", cid, "--token", token]

    def ports(self, cid: str) -> tuple[str, ...]:
        try:
            with open(os.path.join(self.dir(cid), "network.json")) as f:
                return tuple(json.load(f).get("ports", ()))
        except (OSError, ValueError):
            return ()

    # -- stop / kill / pause -------------------------------------------------
    def wait(self, cid: str, *, timeout: float | None = None,
             states: tuple[str, ...] = ("exited", "dead", "created")) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            row = self.db.one("SELECT state, exit_code, monitor_pid FROM containers "
                              "WHERE id = ?", (cid,))
            if row is None:
                return 0
            if row["state"] in states and not alive(row["monitor_pid"]):
                return int(row["exit_code"])
            if row["state"] in LIVE and not alive(row["monitor_pid"]):
                self.row(cid)  # reconcile
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError
            if row["state"] in LIVE and self._await_exit_frame(cid, deadline):
                continue
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def _await_exit_frame(self, cid: str, deadline: float | None) -> bool:
        """Block on the monitor's attach socket until it sends the exit frame
        (or hangs up): no polling while a container runs.  False if there is
        no monitor to listen to."""
        from .attach import AttachClient

        try:
            client = AttachClient.connect(self.socket_path(cid), stdin=False)
        except Conflict:
            return False
        try:
            if deadline is not None:
                client.sock.settimeout(max(0.001, deadline - time.monotonic()))
            for _ in client.frames():  # output is not ours to show: the end counts
                pass
        except OSError:  # a timeout included: the caller checks its deadline
            pass
        finally:
            client.close()
        return True

    def stop(self, cid: str, *, timeout: int | None = None, signal: str = "") -> None:
        row = self.row(cid)
        config = json.loads(row["config"])
        self._mark_stopped(cid)
        if row["state"] not in LIVE:
            return
        if timeout is None:
            timeout = int(config.get("StopTimeout", 10))
        rt = self.runtime(json.loads(row["host_config"]).get("Runtime", ""))
        if row["state"] == "paused":
            rt.resume(cid)
        sig = signal or config.get("StopSignal") or "TERM"
        try:
            rt.kill(cid, _signame(sig))
            self.wait(cid, timeout=max(timeout, 0))
            return
        except (NotFound, TimeoutError):
            pass
        try:
            rt.kill(cid, "KILL", all_procs=True)
        except NotFound:
            pass
        except EngineError as e:  # e.g. the cgroup went with an exit just now
            try:
                self.wait(cid, timeout=10)
            except TimeoutError:
                raise e from None
            return
        self.wait(cid)

    def kill(self, cid: str, signal: str = "KILL") -> None:
        row = self.row(cid)
        if row["state"] not in LIVE:
            raise Conflict(f"Cannot kill container: {cid[:12]}: container {cid} is not running")
        name = _signame(signal)
        if name in ("KILL", "TERM", "INT"):
            self._mark_stopped(cid)
        self.runtime(json.loads(row["host_config"]).get("Runtime", "")).kill(cid, name)
        with self.db.write() as c:
            emit(c, "container", "kill", cid, signal=name)

    def _mark_stopped(self, cid: str) -> None:
        with self.db.write() as c:
            c.execute("UPDATE containers SET stopped_by_user = 1 WHERE id = ?", (cid,))

    def pause(self, cid: str, *, resume: bool = False) -> None:
        row = self.row(cid)
        want, verb = ("paused", "unpause") if resume else ("running", "pause")
        if row["state"] != want:
            msg = "is not paused" if resume else ("is already paused" if row["state"] ==
                                                   "paused" else "is not running")
            raise Conflict(f"Container {cid} {msg}")
        rt = self.runtime(json.loads(row["host_config"]).get("Runtime", ""))
        (rt.resume if resume else rt.pause)(cid)
        with self.db.write() as c:
            c.execute("UPDATE containers SET state = ? WHERE id = ?",
                      ("running" if resume else "paused", cid))
            emit(c, "container", verb, cid)

    # -- remove ------------------------------------------------------------
    def remove(self, cid: str, *, force: bool = False, volumes: bool = False) -> None:
        row = self.row(cid)
        if row["state"] in LIVE:
            if not force:
                raise Conflict(f"cannot remove container \"/{row['name']}\": container is "
                               f"{row['state']}: stop the container before removing or force "
                               "remove")
            self.stop(cid, timeout=0)
        with self.db.write() as c:
            c.execute("UPDATE containers SET state = 'removing' WHERE id = ?", (cid,))
        rootfs = os.path.join(self.dir(cid), "rootfs")
        # an exited container's monitor deletes the runtime state itself
        if row["state"] in LIVE or is_mountpoint(rootfs) or \
                os.path.exists(os.path.join(self.dir(cid), "network.json")):
            self._teardown(cid, json.loads(row["host_config"]).get("Runtime", ""))
        anon = [r["volume"] for r in self.db.query(
            "SELECT cv.volume FROM container_volumes cv JOIN volumes v ON v.name = cv.volume "
            "WHERE cv.container_id = ? AND v.anonymous = 1", (cid,))]
        with self.db.write() as c:
            c.execute("DELETE FROM container_volumes WHERE container_id = ?", (cid,))
            c.execute("DELETE FROM containers WHERE id = ?", (cid,))
            emit(c, "container", "destroy", cid, name=row["name"])
        if self.snapshots.exists(cid):
            self.snapshots.remove(cid)
        remove_tree(self.dir(cid))
        if volumes:
            for v in anon:
                self.volumes.remove(v, force=True)

    def _teardown(self, cid: str, runtime: str) -> None:
        rootfs = os.path.join(self.dir(cid), "rootfs")
        try:
            self.runtime(runtime).delete(cid)
        except Exception:  # noqa: BLE001 - no runtime is no state to delete
            pass
        unmount(rootfs, detach=True)
        self._detach(cid)

    def rename(self, cid: str, new: str) -> None:
        from .options import NAME_RE

        new = new.lstrip("/")
        if not NAME_RE.match(new):
            raise InvalidArgument(f"Invalid container name ({new}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        with self.db.write() as c:
            taken = c.execute("SELECT id FROM containers WHERE name = ?", (new,)).fetchone()
            if taken and taken["id"] != cid:
                raise AlreadyExists(f'Error when allocating new name: Conflict. The container '
                                    f'name "/{new}" is already in use by container '
                                    f'"{taken["id"]}". You have to remove (or rename) that '
                                    "container to be able to reuse that name.")
            c.execute("UPDATE containers SET name = ? WHERE id = ?", (new, cid))
            emit(c, "container", "rename", cid, name=new)


def _policy(host: dict) -> str:
    p = host.get("RestartPolicy") or {}
    name = p.get("Name") or "no"
    if name == "on-failure" and p.get("MaximumRetryCount"):
        return f"on-failure:{p['MaximumRetryCount']}"
    return name


def _signame(sig: str) -> str:
    s = sig.upper().removeprefix("SIG")
    if s.isdigit():
        try:
            return _signal.Signals(int(s)).name.removeprefix("SIG")
        except ValueError:
            raise InvalidArgument(f"invalid signal: {sig}") from None
    if not hasattr(_signal, "SIG" + s):
        raise InvalidArgument(f"invalid signal: {sig}")
    return s


def _runtime_message(msg: str) -> str:
    return msg.split("msg=", 1)[-1].strip('"') if "msg=" in msg else msg
