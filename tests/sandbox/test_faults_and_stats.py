"""Fault injection, API-call counting and the admin endpoints, each on a sandbox of its own."""

import json
import time

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from engine.sandbox import FaultSettings, Sandbox


def test_request_limit_exceeded_is_a_403_like_salesforce(fresh_sandbox):
    fresh_sandbox.set_faults(request_limit_rate=1.0)
    with pytest.raises(SalesforceRefusedRequest) as excinfo:
        fresh_sandbox.client().query("SELECT Id FROM Lead")
    assert excinfo.value.status == 403
    assert excinfo.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_unavailable_is_a_503(fresh_sandbox):
    fresh_sandbox.set_faults(unavailable_rate=1.0)
    with pytest.raises(SalesforceGeneralError) as excinfo:
        fresh_sandbox.client().Lead.create({"LastName": "X", "Company": "X"})
    assert excinfo.value.status == 503
    assert excinfo.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"


def outcomes(sandbox, calls):
    sf = sandbox.client()
    statuses = []
    for _ in range(calls):
        try:
            sf.query("SELECT COUNT() FROM Lead")
            statuses.append(200)
        except SalesforceRefusedRequest:
            statuses.append(403)
    return statuses


def test_fault_rate_is_partial_and_reproducible_from_its_seed(fresh_sandbox):
    fresh_sandbox.set_faults(request_limit_rate=0.5, seed=7)
    first = outcomes(fresh_sandbox, 30)
    fresh_sandbox.set_faults(request_limit_rate=0.5, seed=7)
    assert outcomes(fresh_sandbox, 30) == first
    assert 5 < first.count(403) < 25


def test_lock_failures_hit_some_records_of_a_collection(fresh_sandbox):
    fresh_sandbox.set_faults(lock_rate=0.3, seed=1)
    records = [{"attributes": {"type": "Account"}, "Name": f"Lock {i}"} for i in range(50)]
    results = fresh_sandbox.client().restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    failed = [r for r in results if not r["success"]]
    assert 5 < len(failed) < 30
    assert {r["errors"][0]["statusCode"] for r in failed} == {"UNABLE_TO_LOCK_ROW"}


def test_delay_slows_every_answer(fresh_sandbox):
    sf = fresh_sandbox.client()
    sf.limits()
    fresh_sandbox.set_faults(delay_ms=150)
    started = time.monotonic()
    sf.limits()
    assert time.monotonic() - started >= 0.15


def test_startup_fault_settings_apply_from_the_first_call():
    settings = FaultSettings(request_limit_rate=1.0)
    with Sandbox(faults=settings) as sandbox, pytest.raises(SalesforceRefusedRequest):
        sandbox.client().limits()


def test_stats_count_calls_per_endpoint_kind(fresh_sandbox):
    sf = fresh_sandbox.client()
    lead_id = sf.Lead.create({"LastName": "S", "Company": "S"})["id"]
    sf.Lead.get(lead_id)
    sf.Lead.update(lead_id, {"Phone": "1"})
    for i in range(12):
        sf.Account.create({"Name": f"A{i}"})
    sf.query_all("SELECT Id FROM Account")  # page size 10: query + query_more
    sf.Lead.describe()
    stats = fresh_sandbox.stats()
    assert stats["by_kind"] == {
        "create": 13,
        "get": 1,
        "update": 1,
        "query": 1,
        "query_more": 1,
        "describe": 1,
    }
    assert stats["total"] == 18
    assert stats["by_status"] == {"200": 4, "201": 13, "204": 1}


def test_admin_endpoints_over_https(fresh_sandbox):
    http = fresh_sandbox.http_session()
    admin = fresh_sandbox.admin_url
    fresh_sandbox.client().Account.create({"Name": "Before reset"})
    faults = http.post(f"{admin}/faults", data=json.dumps({"delay_ms": 5})).json()
    assert faults["delay_ms"] == 5 and faults["request_limit_rate"] == 0.0
    assert http.post(f"{admin}/faults", json={"bogus": 1}).status_code == 400
    assert http.get(f"{admin}/stats").json()["by_kind"] == {"create": 1}
    assert http.post(f"{admin}/reset").json() == {"reset": True}
    assert http.get(f"{admin}/stats").json()["total"] == 0
    assert fresh_sandbox.client().query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_the_daily_limit_is_the_orgs_own_and_refuses_every_call_past_it():
    with Sandbox(daily_api_requests=3) as org:
        sf = org.client()
        answer = sf.restful("limits")  # the first call
        assert answer["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
        sf.query("SELECT COUNT() FROM Lead")
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0  # the third: the last one allowed
        for _ in range(2):
            with pytest.raises(SalesforceRefusedRequest) as refused:
                sf.query("SELECT COUNT() FROM Lead")
            assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        usage = sf.session.get(f"{sf.base_url}limits", headers=sf.headers).headers["Sforce-Limit-Info"]
        assert usage == "api-usage=3/3"
        org.reset()  # a new day
        assert sf.restful("limits")["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
