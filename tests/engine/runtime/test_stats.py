"""``top`` and ``stats`` read real processes and real cgroups."""

from __future__ import annotations

import json
import re

from tests.conftest import dockyard
from tests.engine.runtime.conftest import IMAGE

UNIT = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def parse_bytes(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?i?B)", text.strip())
    assert m, text
    return float(m.group(1)) * UNIT[m.group(2)]


def test_top_shows_the_container_processes(croot) -> None:
    cid = dockyard(croot, "run", "-d", IMAGE, "sh", "-c", "sleep 1000 & exec sleep 999"
                   ).stdout.decode().strip()
    out = dockyard(croot, "top", cid).stdout.decode().splitlines()
    assert out[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    # docker/cli's tabwriter: columns at least 20 wide
    assert out[0].startswith("UID" + " " * 17 + "PID")
    rows = [line.split(None, 7) for line in out[1:]]
    assert sorted(r[7] for r in rows) == ["sleep 1000", "sleep 999"]
    assert all(r[0] == "root" and r[5] == "?" and re.fullmatch(r"\d\d:\d\d:\d\d", r[6])
               for r in rows)
    pid1 = json.loads(dockyard(croot, "inspect", cid).stdout)[0]["State"]["Pid"]
    assert str(pid1) in [r[1] for r in rows]
    # ps options are the host's ps, keeping only the container's rows
    out = dockyard(croot, "container", "top", cid, "-o", "pid,comm").stdout.decode()
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"] and len(lines) == 3
    assert {line.split()[1] for line in lines[1:]} == {"sleep"}
    # a paused container still has processes; a stopped one has none
    dockyard(croot, "pause", cid)
    assert len(dockyard(croot, "top", cid).stdout.splitlines()) == 3
    dockyard(croot, "unpause", cid)
    dockyard(croot, "stop", "-t", "0", cid)
    r = dockyard(croot, "top", cid, check=False)
    assert r.returncode == 1 and f"container {cid} is not running".encode() in r.stderr


def test_stats_no_stream(croot) -> None:
    cid = dockyard(croot, "run", "-d", "--name", "busy", "--network", "none", "--memory", "64m",
                   IMAGE, "sh", "-c",
                   "sleep 1000 & sleep 1000 & while true; do :; done").stdout.decode().strip()
    out = dockyard(croot, "stats", "--no-stream").stdout.decode().splitlines()
    assert re.split(r"\s{2,}", out[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                           "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    assert len(out) == 2 and out[1].startswith(cid[:12])
    fmt = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"
    row = dockyard(croot, "stats", "--no-stream", "--format", fmt, "busy").stdout.decode()
    name, cpu, mem, mem_pct, net, blk, pids = row.strip().split("|")
    assert name == "busy"
    # a busy loop: CPU % comes from two samples, as Docker's
    assert float(cpu.rstrip("%")) > 10
    usage, limit = (parse_bytes(x) for x in mem.split(" / "))
    assert limit == 64 * 1024 * 1024
    assert 100 * 1024 < usage < limit  # a shell and two sleeps: hundreds of KiB
    assert 0 < float(mem_pct.rstrip("%")) < 100
    assert net == "0B / 0B"  # --network none: only lo, which Docker does not count
    assert re.fullmatch(r"[\d.]+[kMG]?B / [\d.]+[kMG]?B", blk)
    assert int(pids) >= 3
    # json, and the ID column untruncated
    doc = json.loads(dockyard(croot, "stats", "--no-stream", "--no-trunc", "--format", "json",
                              cid).stdout)
    assert doc["ID"] == cid and doc["Container"] == cid


def test_stats_of_stopped_containers(croot) -> None:
    dockyard(croot, "create", "--name", "idle", IMAGE, "true")
    assert dockyard(croot, "stats", "--no-stream").stdout.decode().splitlines()[1:] == []
    out = dockyard(croot, "stats", "-a", "--no-stream", "--format",
                   "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}").stdout.decode()
    assert out == "idle 0.00% 0B / 0B 0\n"
    r = dockyard(croot, "stats", "--no-stream", "nosuch", check=False)
    assert r.returncode == 1 and b"No such container: nosuch" in r.stderr


def test_sample_all_reads_every_running_container_in_one_pass(croot) -> None:
    import time

    from engine import Engine
    from engine.runtime.stats import compute

    busy = dockyard(croot, "run", "-d", "--network", "none", "--memory", "64m", IMAGE, "sh",
                    "-c", "sleep 1000 & while true; do :; done").stdout.decode().strip()
    idle = dockyard(croot, "run", "-d", "--network", "none", IMAGE, "sleep", "1000"
                    ).stdout.decode().strip()
    dockyard(croot, "create", "--name", "never", IMAGE, "true")
    with Engine(str(croot)) as eng:
        first = eng.stats_samples(io=False)
        assert set(first) == {busy, idle}  # the created one has nothing to sample
        time.sleep(0.5)
        second = eng.stats_samples()
        cpu = {cid: compute(first[cid], second[cid]).cpu_percent for cid in second}
        assert cpu[busy] > 10 and cpu[idle] < cpu[busy]
        assert second[busy].mem_limit == 64 * 1024 * 1024 and second[busy].pids >= 2
        assert first[busy].net_rx == first[busy].block_read == 0  # io=False
        one = eng.stats_sample(busy)  # the per-container call agrees
        assert one.mem_limit == second[busy].mem_limit and one.cpu_ns >= second[busy].cpu_ns
        dockyard(croot, "pause", idle)
        assert idle in eng.stats_samples()  # paused: still counted, as docker stats does
