"""A Python command run in a process of its own and measured: wall seconds, CPU seconds, its own
peak RSS, its exit code and output. The peak is what the child itself reports as it exits
(`VmHWM`): the kernel's figure for a child (`ru_maxrss`) starts at its parent's, since a child
shares its parent's pages until it execs, so a benchmark process grown large would show its own
size for every child it measures."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPORT_PEAK = """\
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write(f"peak-rss-kb {line.split()[1]}\\n")
atexit.register(peak)
"""
RUN_MODULE = "sys.argv = sys.argv[1:]\nrunpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
REPO = Path(__file__).parents[1]


@dataclass
class Measured:
    seconds: float
    cpu: float
    peak_mb: float
    code: int
    out: str
    err: str


def module(name: str, *args: str) -> list[str]:
    """`python -m name args` that reports its peak."""
    return [sys.executable, "-c", REPORT_PEAK + RUN_MODULE, name, *args]


def script(code: str, *args: str) -> list[str]:
    """`python -c code args` that reports its peak."""
    return [sys.executable, "-c", REPORT_PEAK + code, *args]


def measure(
    command: list[str], cwd: Path | None = None, env: Mapping[str, str] | None = None, keep_output: bool = True
) -> Measured:
    """Run a command made by ``module`` or ``script``; its output is read once it has exited
    (thrown away unread without `keep_output`: a plan of a million changes written as JSON)."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    with (
        tempfile.TemporaryFile("w+") if keep_output else open(os.devnull, "w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=environ, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own CPU
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = (out.read() if keep_output else ""), err.read()
    lines = stderr.splitlines()
    peak_kb = next((int(line.split()[1]) for line in lines if line.startswith("peak-rss-kb")), 0)
    stderr = "\n".join(line for line in lines if not line.startswith("peak-rss-kb"))
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, peak_kb / 1024, os.waitstatus_to_exitcode(status), stdout, stderr)
