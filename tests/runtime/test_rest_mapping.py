"""A platform's REST API (json-server) synced both ways with a CRM store through the `syncmap`
command: a quiet run costs one list request, and the bad days (a refused token, a wrong path, a
storm of 429s, a create answered without its id) fail clearly and lose or double nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project
from tests.rest.servers import JsonServer, settings

PEOPLE = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.org", "updated_at": "2026-11-01T09:00:00.000Z"},
    {"id": 2, "name": "Bob Byte", "email": "bob@example.org", "updated_at": "2026-11-01T09:00:01.000Z"},
]


def project(tmp_path: Path, server: JsonServer, **overrides) -> tuple[Path, dict[str, str]]:
    """A project syncing the server's contacts with CRM Leads by email; its token from the
    environment, as a document must write it."""
    platform = settings(server, **overrides)
    platform["auth"] = {"type": "bearer", "token": "${PLATFORM_TOKEN}"}
    document = {
        "syncmap": 2,
        "name": "platform-crm",
        "connections": {
            "platform": {"connector": "rest", "settings": platform},
            "crm": {"connector": "sqlite", "settings": {"path": "crm.db"}},
        },
        "objects": {
            "people": {
                "source": {"connection": "platform", "object": "contacts"},
                "target": {"connection": "crm", "object": "Lead"},
                "direction": "both",
                "match": [{"source": "email", "target": ["Email"], "normalize": "email"}],
                "fields": {"LastName": "name", "Email": "email"},
            }
        },
    }
    root = write_project(tmp_path / "project", {"job.yaml": yaml.safe_dump(document, sort_keys=False)})
    return root, {**os.environ, "PLATFORM_TOKEN": server.token or ""}


def crm_leads(root: Path, count: int) -> None:
    """Leads in the CRM store that the platform does not have yet: P0@x.org, P1@x.org..."""
    crm = SqliteConnector({"path": "crm.db"}, root)
    leads = [{"LastName": f"P{i}", "Email": f"p{i}@x.org"} for i in range(count)]
    crm.write("Lead", [Write(f"l{i}", "create", "Lead", values=values) for i, values in enumerate(leads)])
    crm.close()


def apply(root: Path, environ: dict[str, str], *extra: str):
    return run_syncmap("apply", "job.yaml", *extra, cwd=root, env=environ)


def planned(root: Path, environ: dict[str, str]) -> dict:
    result = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root, env=environ)
    assert result.returncode in (0, 2), result.stderr
    return json.loads(result.stdout)


def test_both_ways_converge_and_a_quiet_run_lists_the_platform_once(tmp_path, json_server):
    server = json_server({"contacts": PEOPLE, "activities": []})
    root, environ = project(tmp_path, server)
    assert apply(root, environ).returncode == 0
    crm = SqliteConnector({"path": "crm.db"}, root)
    assert sorted(r.values["Email"] for r in crm.read("Lead")) == ["ada@example.org", "bob@example.org"]
    crm.write(
        "Lead", [Write("cy", "create", "Lead", values={"LastName": "Cy Young", "Email": "cy@example.org"})]
    )
    crm.close()
    server.fault()  # nothing injected; the request log starts here
    result = apply(root, environ)
    assert result.returncode == 0, result.stderr
    people = {p["email"]: p for p in server.records("contacts")}
    assert sorted(people) == ["ada@example.org", "bob@example.org", "cy@example.org"]
    assert people["cy@example.org"]["name"] == "Cy Young" and people["cy@example.org"]["updated_at"]
    assert planned(root, environ)["counts"] == {
        "create": 0,
        "update": 0,
        "delete": 0,
        "skip": 0,
        "conflict": 0,
        "link": 0,
    }
    server.forget_requests()
    assert apply(root, environ).returncode == 0
    requests = server.requests()
    assert [r["method"] for r in requests] == ["GET"], requests
    assert requests[0]["url"].startswith("/contacts?") and "updated_at_gte=" in requests[0]["url"]


def test_a_refused_token_stops_the_run_with_exit_3_and_never_shows_it(tmp_path, json_server):
    server = json_server({"contacts": PEOPLE, "activities": []})
    root, environ = project(tmp_path, server)
    environ["PLATFORM_TOKEN"] = "wrong-token-8812"
    result = apply(root, environ)
    assert result.returncode == 3, result.stderr
    assert "the platform refused the credentials" in result.stderr and "401" in result.stderr
    assert "wrong-token-8812" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_a_list_path_the_api_does_not_have_is_an_error_at_its_line(tmp_path, json_server):
    server = json_server({"contacts": PEOPLE, "activities": []})
    root, environ = project(tmp_path, server)
    text = (root / "job.yaml").read_text()
    (root / "job.yaml").write_text(text.replace("path: /contacts\n", "path: /contact\n", 1))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.strip() == "path: /contacts")
    result = apply(root, environ)
    assert result.returncode == 1, result.stderr
    assert f"job.yaml:{line}:" in result.stderr and "answered 404: the API has no `/contact`" in result.stderr
    assert "hint: check `list.path`" in result.stderr and "Traceback" not in result.stderr


def test_a_storm_of_429s_leaves_dead_letters_that_the_next_run_writes_once(tmp_path, json_server):
    server = json_server({"contacts": [], "activities": []})
    root, environ = project(tmp_path, server)
    crm_leads(root, 5)
    server.fault(status=429, count=1000, retry_after=0, method="POST")
    stormy = apply(root, environ)
    assert stormy.returncode != 0 and "Traceback" not in stormy.stderr
    assert "429" in stormy.stdout + stormy.stderr and server.records("contacts") == []
    posts = [r for r in server.requests() if r["method"] == "POST"]
    assert len(posts) == 5 * 4  # each create tried once and retried 3 times (`retries: 3`), no more
    server.fault()
    assert apply(root, environ).returncode == 0
    assert sorted(p["email"] for p in server.records("contacts")) == [f"p{i}@x.org" for i in range(5)]
    assert apply(root, environ).returncode == 0
    assert len(server.records("contacts")) == 5


def test_a_create_answered_without_its_id_fails_and_is_not_created_twice(tmp_path, json_server):
    server = json_server({"contacts": [], "activities": []})
    root, environ = project(tmp_path, server)
    crm_leads(root, 3)
    server.fault(drop_id=1)
    first = apply(root, environ)
    assert first.returncode != 0 and "without the new id" in first.stdout + first.stderr
    assert len(server.records("contacts")) == 3  # the API did create it
    for _ in range(2):
        assert apply(root, environ).returncode == 0
    assert sorted(p["email"] for p in server.records("contacts")) == ["p0@x.org", "p1@x.org", "p2@x.org"]
    assert planned(root, environ)["counts"]["create"] == 0


def test_record_ids_with_spaces_quotes_and_slashes_sync_and_update(tmp_path, json_server):
    hostile = ["ada lovelace/1", 'o\'neil "bob"', "50%/two words?x=1"]
    people = [
        {"id": record_id, "name": f"P{i}", "email": f"p{i}@x.org", "updated_at": "2026-11-01T09:00:00.000Z"}
        for i, record_id in enumerate(hostile)
    ]
    server = json_server({"contacts": people, "activities": []})
    root, environ = project(tmp_path, server)
    assert apply(root, environ).returncode == 0
    crm = SqliteConnector({"path": "crm.db"}, root)
    leads = {lead.values["Email"]: lead for lead in crm.read("Lead")}
    assert sorted(leads) == ["p0@x.org", "p1@x.org", "p2@x.org"]
    renames = [
        Write(f"u{i}", "update", "Lead", id=leads[f"p{i}@x.org"].id, values={"LastName": f"Q{i}"})
        for i in range(3)
    ]
    assert all(result.ok for result in crm.write("Lead", renames))
    crm.close()
    result = apply(root, environ)
    assert result.returncode == 0, result.stderr
    assert {p["id"]: p["name"] for p in server.records("contacts")} == {
        r: f"Q{i}" for i, r in enumerate(hostile)
    }
    assert planned(root, environ)["counts"]["update"] == 0
