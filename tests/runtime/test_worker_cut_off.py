"""A worker cut off from PostgreSQL mid-run (its network to the server gone, as a partition
does) writes nothing more to the systems it syncs: every write is journaled in the store first,
in a transaction that also checks the job's lease, so with the store out of reach the run stops
and fails. Once the server is reachable again, the job's next run (asked for here by hand, as
the scheduler would at its next time) is taken by the same worker, whose failed run could not
give the job's lease back, and finishes it: nothing lost or written twice."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import run_syncmap
from tests.runtime.conftest import fresh_state_database
from tests.runtime.test_crash import crm_rows, lead_count, make_project


class Link:
    """A TCP path to the server that can be cut: every connection through it dropped, and new
    ones refused, until it is mended."""

    def __init__(self, host: str, port: int):
        self.server = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if self.cut_off.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.server)
            self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off.set()
        for end in self.open:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.open = []

    def mend(self) -> None:
        self.cut_off.clear()


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.mark.slow
def test_a_worker_cut_off_from_the_store_writes_nothing_more_and_the_job_is_finished(tmp_path, postgres_server):
    reference = make_project(tmp_path / "reference", 4000)
    assert run_syncmap("apply", str(reference)).returncode == 0
    mapping = make_project(tmp_path / "project", 4000)
    folder = mapping.parent
    state = fresh_state_database(postgres_server)
    server = urlsplit(state)
    link = Link(server.hostname or "127.0.0.1", server.port or 5432)
    (folder / "syncmap.toml").write_text(f'state = "{through(state, link.port)}"\n')
    before = lead_count(folder)
    assert run_syncmap("enqueue", str(mapping), cwd=folder).returncode == 0
    worker = subprocess.Popen([sys.executable, "-m", "engine", "worker"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while lead_count(folder) < before + 200:
            assert time.monotonic() < deadline and worker.poll() is None, "the run did not start writing"
            time.sleep(0.01)
        link.cut()
        time.sleep(1)  # a batch already sent may land
        written = lead_count(folder)
        time.sleep(4)
        assert lead_count(folder) == written, "the cut-off worker went on writing"
        assert written < lead_count(reference.parent), "the run finished before it was cut off"
        link.mend()
        deadline = time.monotonic() + 60
        while (asked := run_syncmap("enqueue", str(mapping), cwd=folder)).returncode != 0:
            assert time.monotonic() < deadline, asked.stderr
            time.sleep(1)
        while run_syncmap("plan", str(mapping), "--detailed-exitcode", cwd=folder).returncode != 0:
            assert time.monotonic() < deadline, "the job was not finished once the store was back"
            time.sleep(2)
    finally:
        worker.terminate()
        out, err = worker.communicate(timeout=60)
    assert "error: the state store" in err and "quickstart: ran (" in out, out + err[-2000:]
    assert crm_rows(folder) == crm_rows(reference.parent), "lost or written twice"
