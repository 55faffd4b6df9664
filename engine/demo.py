"""The demo workspace: what a first-time user of ``make run`` sees, all real.

- ``busybox:latest``, made from the host's busybox-static;
- ``demo/web:1.0`` and ``demo/web:1.1`` built on it (shared layers, and a
  step whose bytes a later step deletes: waste for the Layers pane);
- containers: ``web`` serving HTTP, ``writer`` whose writable layer grows
  every second (with a named volume), ``oops`` that exited with code 1;
- a dangling image (an untagged commit of ``oops``) for prune to find.

``python -m engine.demo [--root DIR]`` creates it on an empty root and does
nothing when ``busybox:latest`` is already there.  Containers that cannot
start on this host (no bridge, say) are reported, not fatal.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import tarfile

from . import Engine
from .errors import EngineError, NotFound, Unavailable

PASSWD = b"""root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = b"""root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
"""
MTIME = 1_700_000_000  # fixed, so the same busybox gives the same layer


def find_busybox() -> str:
    # Debian's busybox-static installs /bin/busybox; the image needs a static one
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and os.path.exists(candidate):
            return candidate
    raise Unavailable("busybox-static is not installed (apt-get install busybox-static)")


def rootfs_tar(busybox: str) -> bytes:
    """A root filesystem: busybox, its applet links, /etc/passwd and /etc/group."""
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, MTIME
            info.linkname = link
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        dirs = {"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin",
                "usr/sbin", "sbin", "var", "var/www"}
        dirs |= {os.path.dirname(a) for a in applets if os.path.dirname(a)}
        for d in sorted(dirs):
            add(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else (0o700 if d == "root" else 0o755))
        with open(busybox, "rb") as f:
            add("bin/busybox", tarfile.REGTYPE, 0o755, f.read())
        for a in sorted(set(applets)):
            if a != "bin/busybox":
                add(a, tarfile.SYMTYPE, 0o777, link="/bin/busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD)
        add("etc/group", tarfile.REGTYPE, 0o644, GROUP)
    return buf.getvalue()


def ensure_demo(engine: Engine, name: str = "busybox:latest") -> str | None:
    """Create the demo image unless ``name`` exists; return its ID if made."""
    try:
        engine.resolve_image(name)
        return None
    except NotFound:
        pass
    data = rootfs_tar(find_busybox())
    return engine.import_image(io.BytesIO(data), source="busybox-static", ref=name,
                               changes=['CMD ["sh"]'], message="dockyard demo: busybox-static")


WEB = """FROM busybox:latest
RUN mkdir -p /www && echo '<h1>dockyard demo</h1>' > /www/index.html
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""
WEB_11 = WEB + """RUN dd if=/dev/urandom of=/www/blob bs=64k count=16 2>/dev/null
RUN rm /www/blob && echo 'v1.1' > /www/version.txt
LABEL org.opencontainers.image.version=1.1
"""
# the writable layer grows 4 KiB a second up to 8 MiB, then starts over
WRITER = ("date > /data/started; mkdir -p /var/log; i=0; while true; do "
          "date >> /var/log/demo.log; head -c 4096 /dev/urandom >> /var/log/grow.bin; "
          "i=$((i+1)); if [ $i -ge 2048 ]; then : > /var/log/grow.bin; i=0; fi; sleep 1; done")


def populate(engine: Engine, say=print) -> None:  # noqa: ANN001
    """Images built on the demo busybox and a few containers (see the top)."""
    import tempfile

    from .runtime.options import CreateOptions

    with tempfile.TemporaryDirectory(prefix="dockyard-demo-") as context:  # empty
        for tag, text in (("demo/web:1.0", WEB), ("demo/web:1.1", WEB_11)):
            for _ in engine.build(context, dockerfile_text=text, tags=[tag], network="none"):
                pass
    runs = (
        CreateOptions(image="demo/web:1.1", name="web", restart="unless-stopped"),
        CreateOptions(image="busybox:latest", name="writer", command=("sh", "-c", WRITER),
                      volumes=("demo-data:/data",), network="none"),
        CreateOptions(image="busybox:latest", name="oops", network="none",
                      command=("sh", "-c", "echo something went wrong >&2; exit 1")),
    )
    for opts in runs:
        try:
            engine.start(engine.create(opts))
        except EngineError as e:
            say(f"  (container {opts.name} did not start: {e})")
    try:
        engine.wait("oops")
        engine.commit("oops", None, message="dangling: for prune to find")
    except EngineError as e:
        say(f"  (no dangling image: {e})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", default=None)
    args = p.parse_args()
    with Engine(args.root) as eng:
        made = ensure_demo(eng)
        if made:
            populate(eng)
        print(f"demo workspace: {'created' if made else 'already present'} in {eng.root}")


if __name__ == "__main__":
    main()
