"""Prometheus metrics in one process: what they count, the protected URL, the setting's
check, the Grafana dashboard, and no metric work at all while they are off."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import prometheus_client
import pytest
from django.contrib.auth import get_user_model
from django.core.checks import Error
from django.test import AsyncClient, override_settings
from prometheus_client.parser import text_string_to_metric_families

from thywill import metrics
from thywill.testing import connect
from thywill.wiring.checks import check_metrics
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scraper-token-0123456789abcdef"
ENABLED = {"ENABLED": True, "TOKEN": TOKEN}
URL = "/thywill/metrics/"
DASHBOARD = (
    Path(__file__).resolve().parents[2] / "documentation/grafana/thywill-dashboard.json"
)

PROMETHEUS_CODE = str(Path(prometheus_client.__file__).parent)
INSTRUMENTS_CODE = str(Path(metrics.__file__).parent / "instruments.py")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of an exposition, by name and labels (parsed by prometheus_client)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await AsyncClient().get(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return samples(response.content.decode())


def sample(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def round_trip() -> None:
    """A client connects, sends a message and a duplicate, and reads the echo."""
    client = await connect("testkit")
    assert await client.receive() == [{"welcome": client.client_id}]
    assert await client.send("one") == {"status": "ok"}
    assert await client.send({"raise": True}) == {
        "status": "error",
        "reason": "The application failed to handle this message.",
    }
    assert await client.receive() == ["one"]


class CallRecorder:
    """Records, on every thread, the Python functions called in chosen files."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = prefixes
        self.calls: list[str] = []

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(self.prefixes):
            self.calls.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    def __enter__(self) -> CallRecorder:
        threading.setprofile(self._profile)  # type: ignore[arg-type]
        sys.setprofile(self._profile)  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


# --- off: no metric work ------------------------------------------------------------------


async def test_with_metrics_off_a_round_trip_does_no_metric_work():
    """Off (the default), a round trip never enters prometheus_client or the instruments,
    and keeps none; on, the same round trip does (so the recorder sees such calls)."""
    get_runtime()
    assert metrics.current() is None
    with CallRecorder(PROMETHEUS_CODE, INSTRUMENTS_CODE) as off:
        await round_trip()
    assert off.calls == []
    assert metrics.current() is None

    with override_settings(THYWILL_METRICS=ENABLED):
        get_runtime()
        with CallRecorder(PROMETHEUS_CODE, INSTRUMENTS_CODE) as on:
            await round_trip()
    assert any(call.startswith(PROMETHEUS_CODE) for call in on.calls)


# --- what is counted ----------------------------------------------------------------------


@override_settings(THYWILL_METRICS=ENABLED)
async def test_a_round_trip_counts_its_sends_latencies_delivery_and_lease():
    """Sends by outcome, the handler and flow latencies, the delivery over long-poll and
    the presence lease move by exactly what one round trip does."""
    get_runtime()
    await round_trip()
    found = await scrape()
    assert sample(found, "thywill_sends_total", outcome="ok") == 1
    assert sample(found, "thywill_sends_total", outcome="error") == 1
    labels = {"application": "testkit", "event": "message"}
    assert sample(found, "thywill_handler_seconds_count", **labels) == 2
    assert sample(found, "thywill_pipeline_seconds_count", **labels) == 2
    connect_labels = {"application": "testkit", "event": "connect"}
    assert sample(found, "thywill_pipeline_seconds_count", **connect_labels) == 1
    # the welcome and the echo, each read by one long-poll
    assert sample(found, "thywill_delivery_seconds_count", transport="longpoll") == 2
    assert sample(found, "thywill_presence_leases_total") == 1
    assert (
        sample(found, "thywill_connections", transport="longpoll", application="testkit")
        == 0
    )
    assert sample(found, "thywill_push_buffered_bytes") > 0
    assert sample(found, "thywill_presence_lapses_total") == 0


@override_settings(THYWILL_METRICS=ENABLED)
async def test_a_lapsed_lease_counts_once_with_its_disconnect_event():
    """A client gone (its lease lapsed and swept) is one lapse, its disconnect event's
    flow is timed, and a second sweep counts nothing more."""
    get_runtime()
    client = await connect("testkit")
    await client.disconnect()
    await get_runtime().presence.sweep()
    found = await scrape()
    assert sample(found, "thywill_presence_lapses_total") == 1
    labels = {"application": "testkit", "event": "disconnect"}
    assert sample(found, "thywill_pipeline_seconds_count", **labels) == 1


@override_settings(
    THYWILL_METRICS=ENABLED,
    THYWILL_PIPELINE=[
        {
            "BACKEND": "thywill.pipeline.pipes.RateLimitPipe",
            "OPTIONS": {"rate": 1, "per": 60},
        }
    ],
)
async def test_a_rate_limited_message_counts_apart_from_other_failures():
    """The second message within the limit's period counts as rate_limited."""
    get_runtime()
    client = await connect("testkit")
    assert (await client.send("one"))["status"] == "ok"
    assert (await client.send("two"))["code"] == "rate_limited"
    found = await scrape()
    assert sample(found, "thywill_sends_total", outcome="rate_limited") == 1
    assert sample(found, "thywill_sends_total", outcome="failed") == 0


@override_settings(THYWILL_METRICS=ENABLED)
async def test_a_refused_send_counts_once_as_refused():
    """A send with a forged token is one refused send, whatever its batch held."""
    get_runtime()
    http = AsyncClient()
    body = {"token": "forged", "messages": [{"seq": 1, "data": 1}, {"seq": 2, "data": 2}]}
    response = await http.post("/thywill/send/", body, content_type="application/json")
    assert response.status_code == 403
    found = await scrape()
    assert sample(found, "thywill_sends_total", outcome="refused") == 1


# --- the URL ------------------------------------------------------------------------------


async def test_the_url_is_not_found_while_metrics_are_off():
    """Off, the endpoint is a JSON 404 even with the token."""
    response = await AsyncClient().get(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@override_settings(THYWILL_METRICS=ENABLED)
@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", TOKEN],
)
async def test_the_url_refuses_a_request_without_the_token(authorization, logs):
    """No token, a wrong one or another scheme: 403, and the token is in no log."""
    headers = {"Authorization": authorization} if authorization else {}
    response = await AsyncClient().get(URL, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "refused"
    assert [r.getMessage() for r in logs.records if "metrics" in r.getMessage()]
    assert all(TOKEN not in r.getMessage() for r in logs.records)


@override_settings(THYWILL_METRICS=ENABLED)
async def test_the_url_answers_the_bearer_token_without_logging_it(logs):
    """The scraper's token: 200, Prometheus text, not cached, and the token unlogged."""
    response = await AsyncClient().get(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    assert "# TYPE thywill_sends_total counter" in response.content.decode()
    assert all(TOKEN not in r.getMessage() for r in logs.records)


@override_settings(THYWILL_METRICS={"ENABLED": True, "TOKEN": None})
async def test_the_url_answers_a_staff_user_and_refuses_other_users():
    """A staff user's session reads the metrics; a user who is not staff gets 403."""
    users = get_user_model().objects
    staff = await users.acreate_user("grace", password="x", is_staff=True)
    other = await users.acreate_user("alan", password="x")
    http = AsyncClient()
    await http.aforce_login(other)
    assert (await http.get(URL)).status_code == 403
    await http.aforce_login(staff)
    response = await http.get(URL)
    assert response.status_code == 200
    assert b"thywill_connections" in response.content
    # No token configured: a bearer header is no way in.
    bare = AsyncClient()
    assert (
        await bare.get(URL, headers={"Authorization": "Bearer None"})
    ).status_code == 403


# --- the setting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"ENABLED": "yes"},
        {"ENABLED": True, "TOKEN": "short"},
        {"ENABLED": True, "TOKEN": 1234567890123456789},
        {"ENABLED": True, "TOKEN": " padded-token-0123456789 "},
        {"ENABLED": True, "TOKN": TOKEN},
    ],
)
def test_a_bad_setting_is_reported_without_its_token(value):
    """Each malformed THYWILL_METRICS is thywill.E017, and no message repeats a token."""
    with override_settings(THYWILL_METRICS=value):
        [error] = check_metrics()
    assert isinstance(error, Error) and error.id == "thywill.E017"
    assert "padded-token" not in error.msg


def test_a_missing_multiprocess_directory_is_reported(monkeypatch, tmp_path):
    """PROMETHEUS_MULTIPROC_DIR naming no folder is thywill.E017; a folder is fine."""
    with override_settings(THYWILL_METRICS=ENABLED):
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
        [error] = check_metrics()
        assert error.id == "thywill.E017"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        assert check_metrics() == []


def test_the_defaults_pass_the_check():
    """No THYWILL_METRICS: off, no error."""
    assert check_metrics() == []


# --- the dashboard ------------------------------------------------------------------------


def exposed_names() -> set[str]:
    """Every sample name thywill's metrics can expose, from their registry."""
    metrics.enable()
    kept = metrics.current()
    assert kept is not None
    suffixes = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_count", "_sum"],
    }
    return {
        family.name + suffix
        for family in kept.registry.collect()
        for suffix in suffixes[family.type]
    }


def test_the_dashboard_queries_only_metrics_that_exist():
    """The Grafana dashboard is JSON with a Prometheus datasource variable, a panel per
    metric family, and every thywill_ series it queries is one thywill exposes."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = dashboard["templating"]["list"]
    assert {"name": "datasource", "type": "datasource", "query": "prometheus"}.items() <= (
        next(v for v in variables if v["name"] == "datasource").items()
    )
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"thywill_[a-z_]+", target["expr"])
    }
    names = exposed_names()
    assert queried <= names, sorted(queried - names)
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in queried}
    every = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}
    assert families == every  # a panel for each family
    for panel in dashboard["panels"]:
        if panel.get("targets"):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(autouse=True)
def metrics_off() -> Iterator[None]:
    """Every test leaves metrics as it found them: off."""
    yield
    metrics.disable()
