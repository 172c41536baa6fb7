"""The rest connector against real HTTP on loopback: every pagination style, each kind of auth,
retries that honour Retry-After, creates sent again only with an idempotency key, and the
bodies and page loops that must stop a read instead of feeding it nothing or forever."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.connectors import Write
from engine.connectors.rest import RestConnector
from engine.errors import ConnectorError, SettingError
from tests.conftest import run_syncmap, write_project
from tests.rest.servers import Reply, Scripted, Seen

ITEMS = [{"id": i, "name": f"n{i}", "updated_at": f"2026-11-0{i}T10:00:00Z"} for i in range(1, 6)]


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[Seen], Reply]], Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Callable[[Seen], Reply]) -> Scripted:
        servers.append(Scripted(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def connector(url: str, listing: dict[str, Any], **top: Any) -> RestConnector:
    return RestConnector({"base_url": url, "retries": 2, "max_retry_wait_seconds": 1, **top,
                          "objects": {"items": {"list": listing, "create": {"method": "POST", "path": "/items"}}}})  # fmt: skip


def names(found) -> list[str]:
    return [record.values["name"] for record in found]


def test_a_cursor_in_the_body_is_followed_to_the_last_page(scripted):
    def answer(request: Seen) -> Reply:
        start = int(request.query.get("cursor", ["0"])[0])
        following = str(start + 2) if start + 2 < len(ITEMS) else None
        return 200, {}, {"data": ITEMS[start : start + 2], "meta": {"next_cursor": following}}

    server = scripted(answer)
    listing = {
        "path": "/items",
        "records": "data",
        "paginate": {"style": "cursor", "param": "cursor", "next": "meta.next_cursor"},
    }
    assert names(connector(server.url, listing).read("items")) == ["n1", "n2", "n3", "n4", "n5"]
    assert [r.query.get("cursor") for r in server.seen] == [None, ["2"], ["4"]]


def test_a_next_link_in_the_body_is_followed_with_its_own_query(scripted):
    def answer(request: Seen) -> Reply:
        page = int(request.query.get("page", ["1"])[0])
        following = f"{server.url}/items?page={page + 1}&size=2" if page < 3 else None
        return 200, {}, {"results": ITEMS[(page - 1) * 2 : page * 2], "links": {"next": following}}

    server = scripted(answer)
    listing = {
        "path": "/items",
        "records": "results",
        "paginate": {"style": "next_link", "next": "links.next"},
    }
    assert names(connector(server.url, listing).read("items")) == ["n1", "n2", "n3", "n4", "n5"]
    assert len(server.seen) == 3


@pytest.mark.parametrize(
    "paginate",
    [
        {"style": "offset", "param": "_start", "size_param": "_limit", "size": 2},
        {"style": "page", "param": "_page", "size_param": "_limit", "size": 2},
        {"style": "link_header"},
    ],
    ids=["offset", "page", "link-header"],
)
def test_json_server_pages_by_offset_page_number_and_link_header(json_server, paginate):
    server = json_server({"items": ITEMS}, token=None)
    params = {"_page": 1, "_limit": 2} if paginate["style"] == "link_header" else {}
    read = connector(server.url, {"path": "/items", "params": params, "paginate": paginate}).read("items")
    assert names(read) == ["n1", "n2", "n3", "n4", "n5"]
    assert len(server.requests()) == 3


def test_since_asks_the_api_for_changes_from_the_watermark_rounded_down(json_server):
    server = json_server({"items": ITEMS}, token=None)
    listing = {"path": "/items", "since": {"param": "updated_at_gte"}}
    read = connector(server.url, listing).read("items", since="2026-11-04T10:00:00.000999+00:00")
    assert names(read) == ["n5"]  # the API gave n4 too (at the rounded time): older than asked, left out
    assert "updated_at_gte=2026-11-04T10%3A00%3A00.000Z" in server.requests()[0]["url"]


def test_a_page_loop_stops_the_read_with_an_error(scripted):
    server = scripted(lambda request: (200, {}, {"data": [ITEMS[len(server.seen)]], "next": "same-cursor"}))
    listing = {"path": "/items", "records": "data", "paginate": {"style": "cursor", "param": "c"}}
    with pytest.raises(ConnectorError, match="loop: it gave the next page `same-cursor` a second time"):
        list(connector(server.url, listing).read("items"))
    assert len(server.seen) == 2


def test_a_body_that_is_not_json_names_the_url_and_its_first_bytes(scripted):
    server = scripted(
        lambda request: (200, {"Content-Type": "text/html"}, b"<html><body>Sign in</body></html>")
    )
    with pytest.raises(ConnectorError) as refused:
        list(connector(server.url, {"path": "/items"}).read("items"))
    assert f"GET {server.url}/items did not answer JSON: '<html><body>Sign in" in refused.value.message


def test_records_that_select_nothing_are_an_error_not_an_empty_read(json_server):
    server = json_server({"items": ITEMS}, token=None)
    with pytest.raises(
        ConnectorError, match=r"`records: data` selects no list of records in the body of GET"
    ):
        list(connector(server.url, {"path": "/items", "records": "data"}).read("items"))


def test_retry_after_is_honoured_then_the_read_goes_on(json_server):
    server = json_server({"items": ITEMS}, token=None)
    server.fault(status=429, count=2, retry_after=1)
    started = time.monotonic()
    assert len(list(connector(server.url, {"path": "/items"}).read("items"))) == 5
    assert time.monotonic() - started >= 2.0
    assert len(server.requests()) == 3


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        ({"type": "api_key", "key": "k-123456"}, lambda r: r.headers.get("X-Api-Key") == "k-123456"),
        (
            {"type": "api_key", "key": "k-123456", "header": "Api-Token"},
            lambda r: r.headers.get("Api-Token") == "k-123456",
        ),
        (
            {"type": "api_key", "key": "k-123456", "query": "api_key"},
            lambda r: r.query.get("api_key") == ["k-123456"],
        ),
        (
            {"type": "basic", "username": "app", "password": "pw-98765"},
            lambda r: r.headers.get("Authorization") == "Basic " + base64.b64encode(b"app:pw-98765").decode(),
        ),
    ],
    ids=["key-header", "key-named-header", "key-query", "basic"],
)
def test_each_kind_of_credentials_reaches_the_api(scripted, auth, check):
    server = scripted(lambda request: (200, {}, ITEMS) if check(request) else (401, {}, {"error": "no"}))
    assert len(list(connector(server.url, {"path": "/items"}, auth=auth).read("items"))) == 5


def test_client_credentials_fetch_a_token_and_renew_it_before_it_expires(scripted):
    issued: list[str] = []

    def answer(request: Seen) -> Reply:
        if request.path == "/oauth/token":
            assert (
                "grant_type=client_credentials" in request.body and "client_secret=s3cret-x" in request.body
            )
            issued.append(f"token-{len(issued)}")
            return 200, {}, {"access_token": issued[-1], "expires_in": 61}  # renewed after 1 s
        if request.headers.get("Authorization") != f"Bearer {issued[-1]}":
            return 401, {}, {"error": "expired"}
        return 200, {}, ITEMS

    server = scripted(answer)
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": f"{server.url}/oauth/token",
        "client_id": "app",
        "client_secret": "s3cret-x",
    }
    api = connector(server.url, {"path": "/items"}, auth=auth)
    assert len(list(api.read("items"))) == 5 and issued == ["token-0"]
    assert len(list(api.read("items"))) == 5 and issued == ["token-0"]
    time.sleep(1.1)
    assert len(list(api.read("items"))) == 5 and issued == ["token-0", "token-1"]


def test_a_create_is_sent_again_only_with_an_idempotency_key(scripted):
    def answer(request: Seen) -> Reply:
        first = sum(1 for seen in server.seen if seen.method == "POST") == 1
        return (
            (503, {"Retry-After": "0"}, {"error": "busy"}) if first else (201, {}, {"id": 7, **request.body})
        )

    server = scripted(answer)
    keyed = RestConnector({"base_url": server.url, "max_retry_wait_seconds": 0, "objects": {"items": {
        "list": {"path": "/items"}, "create": {"method": "POST", "path": "/items", "idempotency_header": "Idempotency-Key"}}}})  # fmt: skip
    (result,) = keyed.write("items", [Write("a", "create", "items", values={"name": "Ada"})])
    assert (result.ok, result.id) == (True, "7")
    keys = [seen.headers["Idempotency-Key"] for seen in server.seen]
    assert len(keys) == 2 and keys[0] == keys[1]

    server.seen.clear()
    (unkeyed,) = connector(server.url, {"path": "/items"}).write(
        "items", [Write("b", "create", "items", values={"name": "Bob"})]
    )
    assert not unkeyed.ok and unkeyed.unknown and "503" in unkeyed.error
    assert len(server.seen) == 1  # never sent twice: the journal looks for it on the next run


def test_one_refused_record_fails_alone_with_the_apis_status_and_message(scripted):
    def answer(request: Seen) -> Reply:
        if request.body.get("name") == "bad":
            return 422, {}, {"message": "email is invalid"}
        return 201, {}, {"id": len(server.seen), **request.body}

    server = scripted(answer)
    results = connector(server.url, {"path": "/items"}).write(
        "items",
        [Write(str(i), "create", "items", values={"name": name}) for i, name in enumerate(["a", "bad", "c"])],
    )
    assert [r.ok for r in results] == [True, False, True]
    assert (
        results[1].error == f"POST {server.url}/items answered 422: email is invalid"
        and not results[1].unknown
    )


def test_requests_per_second_are_limited_across_threads(scripted):
    server = scripted(lambda request: (201, {}, {"id": len(server.seen)}))
    api = connector(server.url, {"path": "/items"}, max_requests_per_second=10, concurrency=4)
    started = time.monotonic()
    assert all(
        r.ok for r in api.write("items", [Write(str(i), "create", "items", values={}) for i in range(6)])
    )
    assert time.monotonic() - started >= 0.5  # six starts, a tenth of a second apart


def test_a_settings_mistake_names_the_setting_with_a_did_you_mean():
    with pytest.raises(SettingError) as wrong:
        connector("http://127.0.0.1:9", {"path": "/items", "paginate": {"styl": "cursor"}})
    assert wrong.value.setting == "objects.items.list.paginate.styl"
    assert wrong.value.hint == "did you mean `style`?"


def test_the_published_schema_checks_rest_settings_in_the_editor_and_validate(tmp_path):
    document = """\
        syncmap: 2
        name: platform
        connections:
          platform:
            connector: rest
            settings:
              base_url: https://api.example.com
              auth: {type: bearer, token: plain-text-token}
              objects:
                items:
                  list: {path: /items, paginate: {styl: cursor}}
          crm: {connector: memory}
        objects:
          items:
            source: {connection: platform, object: items}
            target: {connection: crm, object: Lead}
            fields: {LastName: name}
        """
    root = write_project(tmp_path, {"job.yaml": "\n".join(line[8:] for line in document.splitlines())})
    result = run_syncmap("validate", "job.yaml", cwd=root)
    assert result.returncode == 1
    assert (
        "job.yaml:8:35: error: a secret is written in the document" in result.stdout + result.stderr
    )  # the token written in the document
    assert (
        "job.yaml:11:43: error: unknown key `styl`" in result.stderr
        and "did you mean `style`?" in result.stderr
    )


def test_wrapped_bodies_ids_in_the_answer_finds_by_listing_and_fields_from_a_page(scripted):
    stored: list[dict[str, Any]] = [{"uid": "u1", "email": "ada@x.org", "score": 3}]

    def answer(request: Seen) -> Reply:
        if request.method == "POST":
            stored.append({"uid": f"u{len(stored) + 1}", **request.body["contact"]})
            return 201, {}, {"data": {"uid": stored[-1]["uid"]}}
        return 200, {}, {"data": stored}

    server = scripted(answer)
    api = RestConnector({"base_url": server.url, "objects": {"contacts": {
        "list": {"path": "/contacts", "records": "data"}, "id_field": "uid", "modified_field": None,
        "create": {"method": "POST", "path": "/contacts", "wrap": "contact", "id": "data.uid"}}}})  # fmt: skip
    info = api.describe("contacts")
    assert (info.fields["score"].type, info.fields["email"].type, info.authoritative) == (
        "number",
        "string",
        False,
    )
    (created,) = api.write("contacts", [Write("a", "create", "contacts", values={"email": "bob@x.org"})])
    assert (created.ok, created.id) == (True, "u2") and server.seen[-1].body == {
        "contact": {"email": "bob@x.org"}
    }
    found = api.find("contacts", "email", ["bob@x.org", "nobody@x.org"])  # no filter parameter: listed
    assert [(r.id, r.values["email"]) for r in found] == [("u2", "bob@x.org")]


def test_a_batch_endpoint_sends_many_records_per_request_with_a_result_each(scripted):
    stored: dict[str, dict[str, Any]] = {}

    def answer(request: Seen) -> Reply:
        results = []
        for record in request.body["records"]:
            if "@" not in record.get("email", "@"):
                results.append({"error": {"code": "invalid_email", "field": "email"}})
            elif request.path.endswith("/create"):
                stored[f"c{len(stored) + 1}"] = record
                results.append({"data": {"id": f"c{len(stored)}"}})
            else:
                stored[record["id"]] |= record
                results.append({"data": {"id": record["id"]}})
        return 200, {}, {"results": results}

    server = scripted(answer)
    batch = {"method": "POST", "wrap": "records", "results": "results", "id": "data.id", "size": 2}
    api = RestConnector({"base_url": server.url, "concurrency": 1, "objects": {"contacts": {
        "list": {"path": "/contacts"},
        "create_batch": {**batch, "path": "/contacts/create"},
        "update_batch": {**batch, "path": "/contacts/update"}}}})  # fmt: skip
    emails = ["a@x.org", "bad", "c@x.org", "d@x.org", "e@x.org"]
    results = api.write(
        "contacts", [Write(f"r{i}", "create", "contacts", values={"email": e}) for i, e in enumerate(emails)]
    )
    assert [r.ok for r in results] == [True, False, True, True, True]
    assert [stored[r.id]["email"] for r in results if r.ok] == ["a@x.org", "c@x.org", "d@x.org", "e@x.org"]
    assert "invalid_email" in results[1].error and not results[1].unknown
    assert len(server.seen) == 3  # ceil(5 / 2) requests
    server.seen.clear()
    cy = results[2].id
    updated = api.write("contacts", [Write("u", "update", "contacts", id=cy, values={"name": "Cy"})])
    assert (updated[0].ok, stored[cy]) == (True, {"email": "c@x.org", "id": cy, "name": "Cy"})
    assert server.seen[0].body == {"records": [{"id": cy, "name": "Cy"}]}


def test_a_batch_answered_without_a_result_per_record_leaves_its_creates_unknown(scripted):
    server = scripted(lambda request: (200, {}, {"results": []}))
    api = RestConnector({"base_url": server.url, "objects": {"contacts": {
        "list": {"path": "/contacts"}, "create_batch": {"method": "POST", "path": "/batch", "results": "results"}}}})  # fmt: skip
    results = api.write("contacts", [Write(str(i), "create", "contacts", values={"n": i}) for i in range(3)])
    assert all(not r.ok and r.unknown and "without one result per record" in r.error for r in results)
    assert len(server.seen) == 1  # never sent again: the journal looks for them


def test_default_headers_go_on_every_request_and_a_slow_answer_times_out(scripted):
    def answer(request: Seen) -> Reply:
        if request.query.get("slow"):
            time.sleep(1.5)
        return 200, {}, ITEMS

    server = scripted(answer)
    api = connector(
        server.url, {"path": "/items"}, headers={"X-Tenant": "acme"}, timeout_seconds=0.5, retries=0
    )
    assert len(list(api.read("items"))) == 5 and server.seen[0].headers["X-Tenant"] == "acme"
    slow = connector(server.url, {"path": "/items", "params": {"slow": 1}}, timeout_seconds=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=r"GET .*/items: no answer \(ReadTimeout\)"):
        list(slow.read("items"))
    assert time.monotonic() - started < 1.4


def test_writes_go_out_concurrency_at_a_time(scripted):
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def answer(request: Seen) -> Reply:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return 201, {}, {"id": request.body["n"]}

    server = scripted(answer)
    api = connector(server.url, {"path": "/items"}, concurrency=3)
    results = api.write("items", [Write(str(i), "create", "items", values={"n": i}) for i in range(9)])
    assert [r.id for r in results] == [str(i) for i in range(9)] and most[0] == 3
