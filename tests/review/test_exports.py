"""/audit/export.csv and /audit/export.jsonl: the filtered view, streamed, scoped, formula-safe."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from audit.cloudevents import cloudevent
from audit.models import AuditEvent
from audit.services import audit_record
from tests.review.conftest import People, signed_in


def _streamed(client: Client, name: str, query: str = "") -> str:
    response = client.get(reverse(name), {"q": query})
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]


def test_the_csv_holds_the_filtered_events_with_their_sources(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])

    rows = list(csv.DictReader(io.StringIO(_streamed(client, "audit:export-csv", "outcome:denied"))))

    assert [row["id"] for row in rows] == [str(people.a.refusal.pk)]
    assert rows[0]["sources"] == f"{people.a.source} excluded trust_policy_denied"
    assert rows[0]["hash"] == people.a.refusal.hash and rows[0]["sha"] == "a" * 40


def test_the_jsonl_holds_one_cloudevent_envelope_per_line(people: People, client: Client) -> None:
    signed_in(client, people.a.users["admin"])

    lines = [json.loads(line) for line in _streamed(client, "audit:export-jsonl").splitlines()]

    assert lines == [cloudevent(people.a.refusal), cloudevent(people.a.mint)]
    assert [line["id"] for line in lines] == [str(people.a.refusal.pk), str(people.a.mint.pk)]
    assert {line["specversion"] for line in lines} == {"1.0"}
    assert lines[1]["data"]["targets"][0]["fingerprint"] == people.a.minted.fingerprint
    assert lines[1]["type"] == "pro.atmos.sts.token_minted" and lines[1]["data"]["chain"]["hash"] == people.a.mint.hash
    assert lines[1]["source"] == f"/workspaces/{people.a.workspace.public_id}"


@pytest.mark.parametrize("name", ["audit:export-csv", "audit:export-jsonl"])
def test_an_export_never_holds_the_token_itself(people: People, client: Client, name: str) -> None:
    signed_in(client, people.superuser)

    assert "ghs_" not in _streamed(client, name)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(people: People, client: Client, start: str) -> None:
    audit_record(
        action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_FAILURE,
        outcome=AuditEvent.Outcome.DENIED,
        request_id="req_formula",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "acme/x", "workflow": f'{start}HYPERLINK("http://evil.example","x")'},
    )
    signed_in(client, people.a.users["security"])

    rows = list(csv.DictReader(io.StringIO(_streamed(client, "audit:export-csv", "repo:acme/x"))))

    assert rows[0]["workflow"] == f'\'{start}HYPERLINK("http://evil.example","x")'


@pytest.mark.parametrize("name", ["audit:export-csv", "audit:export-jsonl"])
def test_a_bad_query_is_refused_with_its_sentence(people: People, client: Client, name: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse(name), {"q": "outcome:maybe"})

    assert response.status_code == 400
    assert response.content.decode().startswith("Unknown outcome 'maybe'")


def test_an_export_is_offered_as_a_download_of_the_current_query(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    body = client.get(reverse("audit:list"), {"q": "outcome:denied"}).content.decode()
    response = client.get(reverse("audit:export-csv"), {"q": "outcome:denied"})

    assert 'href="/audit/export.csv?q=outcome%3Adenied"' in body
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'


@pytest.mark.parametrize("name", ["audit:export-csv", "audit:export-jsonl"])
def test_an_export_walks_every_page_once_newest_first(
    people: People, client: Client, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from review import exports

    monkeypatch.setattr(exports, "FIRST_CHUNK_SIZE", 2)
    monkeypatch.setattr(exports, "CHUNK_SIZE", 3)
    for number in range(8):
        audit_record(
            action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_SUCCESS,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id=f"req_page_{number}",
            workspace_public_id=people.a.workspace.public_id,
        )
    expected = list(
        AuditEvent.objects.filter(workspace_public_id=people.a.workspace.public_id).values_list("pk", flat=True)
    )
    signed_in(client, people.a.users["security"])

    text = _streamed(client, name)

    if name == "audit:export-csv":
        exported = [int(row["id"]) for row in csv.DictReader(io.StringIO(text))]
    else:
        exported = [int(json.loads(line)["id"]) for line in text.splitlines()]  # CloudEvents ids are strings
    assert exported == expected and len(expected) == 10
