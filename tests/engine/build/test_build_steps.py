"""Instruction semantics on real builds: COPY/ADD, RUN forms and mounts, metadata, ONBUILD."""

from __future__ import annotations

import io
import tarfile

from tests.engine.build.test_build_support import build, config_blob, dy, image, steps, write
from tests.engine.runtime.conftest import IMAGE, croot  # noqa: F401 - the fixture


def run(root, ref: str, *cmd: str) -> str:
    return dy(root, "run", "--rm", ref, *cmd).stdout.decode()


def test_copy_globs_directories_and_destinations(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": (f"FROM {IMAGE}\n"
                       "COPY *.txt /globbed/\n"
                       "COPY dir /copied\n"
                       "COPY dir/sub/deep.txt /renamed.txt\n"
                       "COPY [\"a.txt\", \"b.txt\", \"/list/\"]\n"
                       "COPY nomatch* /none/\n"
                       "WORKDIR /work\n"
                       "COPY a.txt rel/\n"
                       "COPY link /via-link\n"),
        "a.txt": "a", "b.txt": "b", "c.md": "c",
        "dir/top.txt": "top", "dir/sub/deep.txt": "deep"})
    (ctx / "link").symlink_to("dir/sub/deep.txt")
    build(croot, ctx, "-t", "cp:1")
    out = run(croot, "cp:1", "sh", "-c", "cd / && find globbed copied list work -print | sort; "
              "cat renamed.txt via-link; echo; test -e /none || echo no-match-no-dir")
    assert out.split() == ["copied", "copied/sub", "copied/sub/deep.txt", "copied/top.txt",
                           "globbed", "globbed/a.txt", "globbed/b.txt", "list", "list/a.txt",
                           "list/b.txt", "work", "work/rel", "work/rel/a.txt", "deepdeep",
                           "no-match-no-dir"]


def test_add_extracts_local_archives_and_copy_does_not(croot, tmp_path) -> None:  # noqa: F811
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("pkg/hello.txt", b"hello\n"), ("pkg/bin/tool", b"#!/bin/sh\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.uid, ti.gid = len(data), 0o755, 42, 43
            tar.addfile(ti, io.BytesIO(data))
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": (f"FROM {IMAGE}\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /raw/\n"
                       "ADD --chown=7:8 pkg.tar.gz /owned\n"),
        "pkg.tar.gz": buf.getvalue()})
    build(croot, ctx, "-t", "add:1")
    out = run(croot, "add:1", "sh", "-c", "cat /opt/pkg/hello.txt; ls -n /opt/pkg/bin/tool "
              "/owned/pkg/hello.txt; ls /raw")
    lines = out.splitlines()
    assert lines[0] == "hello"
    assert " 42 " in lines[1] and " 43 " in lines[1] and lines[1].startswith("-rwxr-xr-x")
    assert " 7 " in lines[2] and " 8 " in lines[2]
    assert lines[3] == "pkg.tar.gz"


def test_run_forms_shell_heredoc_and_workdir_env(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        "ARG WHO=world\n"
        "WORKDIR /w\n"
        'RUN ["sh", "-c", "echo exec-form $0 > exec.txt"]\n'
        'SHELL ["/bin/sh", "-xc"]\n'
        "RUN echo shell-form-$WHO > shell.txt\n"
        "RUN <<EOF\n"
        "echo first > heredoc.txt\n"
        "echo second >> heredoc.txt\n"
        "EOF\n"
        "RUN <<EOF\n"
        "#!/bin/sh\n"
        "echo from-script > script.txt\n"
        "EOF\n")})
    r = build(croot, ctx, "-t", "forms:1")
    assert "+ echo shell-form-world" in r.stderr.decode()  # SHELL's -x trace, as output
    out = run(croot, "forms:1", "sh", "-c", "cat exec.txt shell.txt heredoc.txt script.txt; pwd")
    assert out.split() == ["exec-form", "sh", "shell-form-world", "first", "second",
                           "from-script", "/w"]
    hist = [h["created_by"] for h in config_blob(croot, "forms:1")["history"]]
    assert 'RUN |1 WHO=world sh -c echo exec-form $0 > exec.txt # buildkit' in hist
    assert "RUN |1 WHO=world /bin/sh -xc echo shell-form-$WHO > shell.txt # buildkit" in hist
    assert 'SHELL [/bin/sh -xc]' in hist
    # no trace of the runtime's mount points in any layer
    layers = dy(croot, "image", "inspect", "--format", "{{len .RootFS.Layers}}", "forms:1")
    assert layers.stdout.decode().strip() == "6"
    diff = run(croot, "forms:1", "sh", "-c", "ls -a /etc | tr '\\n' ' '")
    assert "hosts" in diff  # the run's own bind mount, present at run time only


def test_build_args_scoping_and_proxy_args(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "ARG TAG=1.37.0-musl\n"
        "ARG GLOBAL=g\n"
        "FROM busybox:${TAG}\n"
        "RUN echo \"global-unset=[$GLOBAL] tag=[$TAG]\" > /scope\n"
        "ARG GLOBAL\n"
        "ARG LOCAL=l1\n"
        "ENV LOCAL=from-env\n"
        "RUN echo \"global=$GLOBAL local=$LOCAL proxy=$http_proxy\" >> /scope\n")})
    build(croot, ctx, "-t", "args:1", "--build-arg", "GLOBAL=override",
          "--build-arg", "http_proxy=http://proxy:3128")
    assert run(croot, "args:1", "cat", "/scope").splitlines() == [
        "global-unset=[] tag=[]",
        "global=override local=from-env proxy=http://proxy:3128"]
    cfg = config_blob(croot, "args:1")
    env = cfg["config"]["Env"]
    assert "LOCAL=from-env" in env and not any("proxy" in e or "GLOBAL" in e for e in env)
    runs = [h["created_by"] for h in cfg["history"] if h["created_by"].startswith("RUN")]
    assert runs[1].startswith("RUN |2 GLOBAL=override LOCAL=from-env /bin/sh -c ")
    assert not any("proxy:3128" in r for r in runs)  # proxy args stay out of history
    # a proxy change does not invalidate the cache; a used build arg does
    again = steps(build(croot, ctx, "--build-arg", "GLOBAL=override",
                        "--build-arg", "http_proxy=http://other:1").stderr)
    assert [v for k, v in again.items() if " RUN " in k] == ["CACHED", "CACHED"]
    changed = steps(build(croot, ctx, "--build-arg", "GLOBAL=new").stderr)
    assert [v for k, v in changed.items() if " RUN " in k] == ["CACHED", "DONE"]


def test_cache_mount_persists_between_builds(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        "RUN --mount=type=cache,target=/cache,id=shared echo $RANDOM-1 >> /cache/log && "
        "cp /cache/log /seen\n")})
    build(croot, ctx, "-t", "cm:1")
    write(ctx, {"Dockerfile": (f"FROM {IMAGE}\n"
                               "RUN --mount=type=cache,target=/c2,id=shared cat /c2/log > /seen "
                               "&& test ! -e /cache\n")})
    build(croot, ctx, "-t", "cm:2")
    assert len(run(croot, "cm:2", "cat", "/seen").splitlines()) == 1
    assert run(croot, "cm:2", "sh", "-c", "ls -d /c2 /cache 2>&1; true").count("No such") == 2


def test_metadata_instructions_in_config(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        "MAINTAINER someone\n"
        "LABEL a=1 \"b c\"=\"d e\"\n"
        "EXPOSE 8080 53/udp 9000-9001\n"
        "VOLUME /data [\"/logs\"]\n"
        'VOLUME ["/other"]\n'
        "STOPSIGNAL SIGUSR1\n"
        "HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost || exit 1\n"
        "ENTRYPOINT [\"/bin/echo\"]\n"
        "CMD hello\n"
        "ONBUILD RUN echo triggered > /trigger\n")})
    build(croot, ctx, "-t", "meta:1")
    cfg = config_blob(croot, "meta:1")
    c = cfg["config"]
    assert cfg["author"] == "someone"
    assert c["Labels"] == {"a": "1", "b c": "d e"}
    assert c["ExposedPorts"] == {"53/udp": {}, "8080/tcp": {}, "9000/tcp": {}, "9001/tcp": {}}
    assert set(c["Volumes"]) == {"/data", "[/logs]", "/other"}  # each word expanded: no quotes
    assert c["StopSignal"] == "SIGUSR1"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
                                "Interval": 5_000_000_000, "Retries": 3}
    assert c["Entrypoint"] == ["/bin/echo"] and c["Cmd"] == ["/bin/sh", "-c", "hello"]
    assert c["OnBuild"] == ["RUN echo triggered > /trigger"]
    hist = [h["created_by"] for h in cfg["history"][1:]]
    assert hist == [
        "MAINTAINER someone", 'LABEL a=1 b c=d e', "EXPOSE [53/udp 8080/tcp 9000/tcp 9001/tcp]",
        "VOLUME [/data [/logs]]", "VOLUME [/other]", "STOPSIGNAL SIGUSR1",
        "HEALTHCHECK {Test:[CMD-SHELL wget -q localhost || exit 1] Interval:5s Timeout:0s "
        "StartPeriod:0s StartInterval:0s Retries:3}",
        'ENTRYPOINT ["/bin/echo"]', 'CMD ["/bin/sh" "-c" "hello"]']
    assert run(croot, "meta:1") == "/bin/sh -c hello\n"


def test_onbuild_triggers_run_in_the_child(croot, tmp_path) -> None:  # noqa: F811
    base = write(tmp_path / "base", {"Dockerfile": (
        f"FROM {IMAGE}\nONBUILD COPY marker /from-trigger\nONBUILD RUN echo triggered > /t\n")})
    build(croot, base, "-t", "onbase:1")
    child = write(tmp_path / "child", {"Dockerfile": "FROM onbase:1\nRUN cat /t /from-trigger\n",
                                       "marker": "marker-content\n"})
    r = build(croot, child, "-t", "onchild:1")
    seen = steps(r.stderr)
    assert "[2/4] ONBUILD COPY marker /from-trigger" in seen
    assert "[3/4] ONBUILD RUN echo triggered > /t" in seen
    assert "triggered" in r.stderr.decode() and "marker-content" in r.stderr.decode()
    assert "OnBuild" not in config_blob(croot, "onchild:1")["config"]
    assert image(croot, "onchild:1")["Config"]["OnBuild"] is None


def test_scratch_stage_and_copy_from_image(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE} AS tools\nRUN echo built > /artifact\n"
        "FROM scratch\n"
        "COPY --from=tools /artifact /artifact\n"
        f"COPY --from={IMAGE} /bin/busybox /bin/sh\n"
        'CMD ["/bin/sh", "-c", "echo from-scratch; read l < /artifact; echo $l"]\n')})
    build(croot, ctx, "-t", "scratch:1")
    cfg = config_blob(croot, "scratch:1")
    assert len(cfg["rootfs"]["diff_ids"]) == 2 and cfg["history"][0]["created_by"].startswith(
        "COPY /artifact /artifact")
    assert cfg["config"]["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert run(croot, "scratch:1").splitlines() == ["from-scratch", "built"]


def test_network_none_by_default_host_when_asked(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\nRUN ls /sys/class/net > /none.txt\n"
        "RUN --network=host ls /sys/class/net > /host.txt\n")})
    build(croot, ctx, "-t", "net:1")
    assert run(croot, "net:1", "cat", "/none.txt").split() == ["lo"]
    import os

    seen = set(run(croot, "net:1", "cat", "/host.txt").split())
    stable = {n for n in os.listdir("/sys/class/net") if not n.startswith(("veth", "dy"))}
    assert "lo" in seen and stable <= seen  # the host's own interfaces, not just lo


def test_copy_heredocs_and_platform_args(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM --platform=$BUILDPLATFORM {IMAGE}\n"
        "ARG TARGETARCH\n"
        "ENV X=expanded\n"
        "COPY <<EOF /x.txt\nhello $X\nEOF\n"
        "COPY --chmod=600 <<-EOT /dir/\n\ttabbed\n\tEOT\n"
        "RUN echo $TARGETARCH > /arch\n")})
    build(croot, ctx, "-t", "hd:1")  # heredocs only: the context is never needed
    out = run(croot, "hd:1", "sh", "-c", "cat /x.txt /dir/EOT /arch; stat -c %a /dir/EOT")
    assert out.split("\n") == ["hello expanded", "tabbed", "amd64", "600", ""]
    hist = [h["created_by"] for h in config_blob(croot, "hd:1")["history"][1:]]
    assert hist[2:4] == ["COPY <<EOF /x.txt # buildkit", "COPY --chmod=600 <<EOT /dir/ # buildkit"]
