"""The job lease decides who runs a job: on this host by whether the holder's process lives, on
another by the age of its heartbeat; a run that lost its lease writes no status over the new
holder's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import JobBusyError
from engine.lease import EXPIRES_SECONDS, JobLease
from engine.state import Lease, StateStore


@pytest.fixture
def state(tmp_path, state_backend):
    store = StateStore(state_backend or tmp_path / "state.db")
    yield store
    store.close()


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def hold(state: StateStore, host: str, pid: int, heartbeat: str) -> None:
    with state.transaction():
        state.take_lease(Lease("job", "someone", "apply", host, pid, ago(3600), heartbeat))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_holder_on_this_host_keeps_its_job_however_old_its_heartbeat(state):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        hold(state, socket.gethostname(), holder.pid, ago(10 * EXPIRES_SECONDS))  # suspended, or busy
        with pytest.raises(JobBusyError) as refused:
            JobLease(state, "job", "apply").acquire()
    finally:
        holder.kill()
        holder.wait()
    assert f"(pid {holder.pid} on {socket.gethostname()})" in refused.value.message


def test_a_lease_this_process_left_behind_is_taken_by_its_next_run(state):
    """A worker's run that could not give its lease back (the store out of reach) leaves it
    naming the worker, which lives on: no run of the worker holds it, so its next run takes it."""
    hold(state, socket.gethostname(), os.getpid(), ago(0))
    with JobLease(state, "job", "apply").acquire() as lease:
        assert state.lease("job").owner == lease.owner
        with pytest.raises(JobBusyError):  # while a run of this process holds it, it is held
            JobLease(state, "job", "apply").acquire()


def test_a_dead_holder_on_this_host_frees_its_job_at_once(state):
    hold(state, socket.gethostname(), dead_pid(), ago(0))
    with JobLease(state, "job", "apply").acquire() as lease:
        assert state.lease("job").owner == lease.owner
    assert state.lease("job") is None, "released"


def test_a_holder_on_another_host_keeps_its_job_until_its_heartbeat_is_old(state):
    hold(state, "elsewhere", 1, ago(EXPIRES_SECONDS / 2))
    with pytest.raises(JobBusyError):
        JobLease(state, "job", "apply").acquire()
    hold(state, "elsewhere", 1, ago(EXPIRES_SECONDS + 1))
    JobLease(state, "job", "apply").acquire().release()


def test_a_run_whose_lease_was_taken_over_stops_before_its_next_write(state):
    lease = JobLease(state, "job", "apply").acquire()
    hold(state, "elsewhere", 1, ago(0))  # another machine took it after this one stalled
    with pytest.raises(JobBusyError) as stopped, state.transaction():
        lease.check()
    assert "was taken over by another run" in stopped.value.message
    lease.release()
    assert state.lease("job").host == "elsewhere", "the new holder's lease stays"


def test_a_state_path_that_cannot_be_a_store_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "syncmap.toml").write_text("")
    (tmp_path / "afile").write_text("")
    for path in ("afile/state.db", "afile/deeper/state.db"):
        result = subprocess.run(
            [sys.executable, "-m", "engine", "pause", "x", "--state", str(tmp_path / path)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 4, result.stderr
        assert result.stderr.startswith(f"error: the state store {tmp_path / path}")
        assert "Traceback" not in result.stderr
