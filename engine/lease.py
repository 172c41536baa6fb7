"""Job leases: one run of a job at a time, across processes and machines.

Before a run reads anything it takes its job's lease in the state store (owner, command, host,
pid, when it started) and renews it every few seconds from a background thread. A second run of
the same job waits for it or refuses, naming the holder. A holder that dies frees the lease
without anyone cleaning up: on the same host as soon as its process is gone, elsewhere once its
heartbeat is older than ``EXPIRES_SECONDS`` (on the same host the process alone decides, so a
suspended or busy holder keeps its job). A long-lived process (a worker) whose run could not give
its lease back (the store was out of reach) frees it itself: a lease naming this process that no
run of it holds is left over. Every write transaction of a run checks that the
lease is still its own (``check``), so a run that stalled past its expiry stops before writing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from engine.errors import JobBusyError, StateError
from engine.state import Lease, StateStore, now

HEARTBEAT_SECONDS = 5.0
# a heartbeat this old means a holder on another host is gone: well above the 30 s a beat may
# wait for the store's write lock, so a busy store never passes for a dead holder
EXPIRES_SECONDS = 120.0
POLL_SECONDS = 0.2  # how often a waiting run asks again
_held: set[str] = set()  # the owners of the leases this process's runs hold now


class JobLease:
    """The lease of one job, held by this process while a run (or a delete) goes on."""

    def __init__(self, state: StateStore, job: str, command: str):
        self.state = state
        self.job = job
        self.command = command
        self.owner = secrets.token_hex(8)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None

    def acquire(self, wait: float = 0.0) -> JobLease:
        """Take the lease, waiting up to ``wait`` seconds for a holder to finish; JobBusyError
        naming the holder when it does not."""
        holder = Retrying(
            retry=retry_if_result(lambda holder: holder is not None), stop=stop_after_delay(wait),
            wait=wait_fixed(POLL_SECONDS), retry_error_callback=lambda state: state.outcome.result(),
        )(self._claim)  # fmt: skip
        if holder is not None:
            raise JobBusyError(
                f"{self.job} is busy: `syncmap {holder.command}` (pid {holder.pid} on {holder.host}) "
                f"has been running it since {holder.started}; nothing was done",
                hint="let it finish, or pass `--wait SECONDS` to wait for it (a holder that died "
                f"frees the job at once on its host, within {EXPIRES_SECONDS:.0f} s seen from another)",
            )
        _held.add(self.owner)
        self._beating = threading.Thread(target=self._beat, name=f"lease {self.job}", daemon=True)
        self._beating.start()
        return self

    def _claim(self) -> Lease | None:
        """Take the lease when it is free or its holder is gone; otherwise return the holder."""
        stamp = now()
        mine = Lease(self.job, self.owner, self.command, socket.gethostname(), os.getpid(), stamp, stamp)
        with self.state.transaction():
            holder = self.state.lease(self.job)
            if holder is not None and holder.owner != self.owner and _alive(holder):
                return holder
            self.state.take_lease(mine)
        return None

    def _beat(self) -> None:
        """Renew the lease until released, through a connection of its own (SQLite connections
        stay in the thread that made them)."""
        store: StateStore | None = None
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    store = store or StateStore(self.state.path, checked=False)
                    with store.transaction():
                        renewed = store.renew_lease(self.job, self.owner)
                except StateError:
                    continue  # the store was busy; the lease outlasts several missed beats
                if not renewed:
                    self.lost.set()
                    return
        finally:
            if store is not None:
                store.close()

    def check(self) -> None:
        """Inside a write transaction: stop when another run has taken the lease over."""
        holder = self.state.lease(self.job)
        if holder is None or holder.owner != self.owner:
            self.lost.set()
        if self.lost.is_set():
            raise JobBusyError(
                f"{self.job} was taken over by another run while this one stalled; this run stopped",
                hint="the other run carries on from what this one wrote",
            )

    def release(self) -> None:
        """Give the lease up. Should the store refuse (locked), it is freed anyway once this
        process is gone; the run's own outcome is not hidden by that."""
        self._stop.set()
        _held.discard(self.owner)
        if self._beating is not None:
            self._beating.join()
        with contextlib.suppress(StateError), self.state.transaction():
            self.state.release_lease(self.job, self.owner)

    def __enter__(self) -> JobLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _alive(holder: Lease) -> bool:
    """Whether a lease's holder may still be running: in this process, whether a run holds it; on
    this host, whether its process exists; on another, whether its heartbeat is recent."""
    if holder.host != socket.gethostname():
        expiry = datetime.now(UTC) - timedelta(seconds=EXPIRES_SECONDS)
        return holder.heartbeat >= expiry.isoformat(timespec="microseconds")
    if holder.pid == os.getpid():
        return holder.owner in _held
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True
