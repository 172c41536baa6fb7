"""Reads through the rest connector: N records listed from json-server (a platform's REST API on
loopback, paged by its `Link` header), the records per second and the requests made, next to the
floor of ceil(N / page size) requests."""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Result
from engine.connectors.rest import RestConnector
from tests.rest.servers import JsonServer, settings

PAGE = 1000


def main(records: int = 100_000) -> list[Result]:
    people = [
        {"id": i, "name": f"Person {i}", "email": f"p{i}@example.org", "phone": f"+1415{i:07d}",
         "updated_at": f"2026-11-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"}
        for i in range(1, records + 1)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        server = JsonServer(Path(folder), {"contacts": people, "activities": []})
        try:
            found = settings(server)
            found["objects"]["contacts"]["list"]["params"]["_limit"] = PAGE
            connector = RestConnector(found)
            server.forget_requests()
            started = time.perf_counter()
            read = sum(1 for _ in connector.read("contacts"))
            seconds = time.perf_counter() - started
            connector.close()
            requests = len(server.requests())
        finally:
            server.stop()
    if read != records:
        raise RuntimeError(f"the rest read brought {read:,} of {records:,} records")
    floor = math.ceil(records / PAGE)
    print(
        f"rest read of {records:,} records from json-server: {seconds:.1f} s, {requests} requests (floor {floor})"
    )
    name = f"rest connector read, {records:,} records from json-server, pages of {PAGE:,}"
    return [
        Result(name, "throughput", records / seconds, "records/s"),
        Result(name, "requests", requests, "calls", f"floor {floor}"),
    ]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
