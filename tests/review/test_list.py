"""/audit/: events newest first, the query from the URL, keyset pages, facets that add qualifiers, a chart."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from tests.review.conftest import People, signed_in


def _links(body: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]*)"', body)]


def _query_of(link: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(link).query).items()}


def test_it_lists_events_newest_first(people: People, client: Client) -> None:
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    assert body.index(f'href="/audit/{people.a.refusal.pk}/"') < body.index(f'href="/audit/{people.a.mint.pk}/"')


def test_the_query_in_the_url_filters_the_events(people: People, client: Client) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse("audit:list"), {"q": "outcome:denied"})
    body = response.content.decode()

    assert f"/audit/{people.a.refusal.pk}/" in body and f"/audit/{people.a.mint.pk}/" not in body
    assert 'value="outcome:denied"' in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour:red", "Unknown qualifier"),
        ("created:soon", "is not a date"),
        ("repo:a\x00b", "control characters"),
        ("x" * 5000, "longer than 1000 characters"),
        ('repo:"<script>alert(1)</script>', "A quote is not closed."),
    ],
)
def test_a_bad_query_is_shown_back_with_its_sentence(people: People, client: Client, query: str, message: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse("audit:list"), {"q": query})
    body = response.content.decode()

    assert response.status_code == 400
    assert message in body and "<script>" not in body


def test_a_query_is_shown_back_escaped(people: People, client: Client) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse("audit:list"), {"q": "<script>x</script>"})

    assert response.status_code == 200 and "<script>" not in response.content.decode()


@pytest.mark.parametrize(
    "cursor", ["yesterday,1", "2026-11-01T00:00:00,1", "2026-11-01T00:00:00Z,-1", "2026-11-01T00:00:00Z,x", ","]
)
def test_a_forged_page_link_is_refused_with_a_sentence(people: People, client: Client, cursor: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(reverse("audit:list"), {"before": cursor})

    assert response.status_code == 400
    assert "The page link is not valid" in response.content.decode()


def test_the_pages_walk_every_event_once_in_order_without_offset(people: People, client: Client) -> None:
    for number in range(120):
        audit_record(
            action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_SUCCESS,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id=f"req_page_{number}",
            workspace_public_id=people.a.workspace.public_id,
            identity={"repository": "acme/paged", "actor": "pager"},
        )
    expected = list(
        AuditEvent.objects.filter(workspace_public_id=people.a.workspace.public_id).values_list("pk", flat=True)
    )
    signed_in(client, people.a.users["security"])
    seen: list[int] = []
    link: str | None = reverse("audit:list") + "?q="
    while link is not None:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(link).content.decode()
        assert not any("OFFSET" in query["sql"].upper() for query in queries.captured_queries)
        seen += [int(pk) for pk in re.findall(r'href="/audit/(\d+)/"', body)]
        older = [href for href in _links(body) if "before=" in href]
        link = reverse("audit:list") + older[0] if older else None

    assert seen == expected and len(seen) == 122


def test_a_facet_adds_its_qualifier_to_the_current_query(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    body = client.get(reverse("audit:list"), {"q": "actor:acme-bot"}).content.decode()

    narrowed = {_query_of(link).get("q") for link in _links(body)}
    assert {
        "actor:acme-bot outcome:allowed",
        "actor:acme-bot action:pro.atmos.sts.token_minted",
        f"actor:acme-bot repo:{people.a.caller}",
        f"actor:acme-bot source:{people.a.source}",
    } <= narrowed


def test_the_facets_count_only_the_selected_events(people: People, client: Client) -> None:
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    assert re.search(r">denied</a> <span class=\"count\">1</span>", body)
    assert re.search(r">pro\.atmos\.sts\.token_minted</a> <span class=\"count\">1</span>", body)
    assert re.search(r">pro\.atmos\.sts\.mint_denied</a> <span class=\"count\">1</span>", body)


def test_a_row_stored_under_a_legacy_name_is_shown_counted_and_found_under_its_new_name(
    people: People, client: Client
) -> None:
    legacy = audit_record(
        action=AuditEvent.Action.LEGACY_STS_MINT,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_legacy",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "acme/legacy-caller"},
    )
    signed_in(client, people.a.users["security"])

    everything = client.get(reverse("audit:list")).content.decode()
    found = client.get(reverse("audit:list"), {"q": "action:pro.atmos.sts.token_minted"}).content.decode()
    detail = client.get(reverse("audit:detail", args=[legacy.pk])).content.decode()

    assert re.search(r">pro\.atmos\.sts\.token_minted</a> <span class=\"count\">2</span>", everything)
    assert ">sts.mint<" not in everything
    assert f"/audit/{legacy.pk}/" in found and f"/audit/{people.a.mint.pk}/" in found
    assert f"/audit/{people.a.refusal.pk}/" not in found
    assert "pro.atmos.sts.token_minted" in detail and "Tokens minted" in detail


def test_a_facet_link_followed_selects_what_it_says(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    body = client.get(reverse("audit:list")).content.decode()
    denied = next(link for link in _links(body) if _query_of(link).get("q") == "outcome:denied")

    followed = client.get(reverse("audit:list") + denied).content.decode()

    assert f"/audit/{people.a.refusal.pk}/" in followed and f"/audit/{people.a.mint.pk}/" not in followed


def test_the_chart_draws_mints_and_refusals_as_svg(people: People, client: Client) -> None:
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    assert "<svg" in body and 'class="allowed"' in body and 'class="refused"' in body
    assert re.search(r"1 minted, 1 refused", body)


def test_no_chart_is_drawn_when_no_mint_is_selected(people: People, client: Client) -> None:
    response = signed_in(client, people.a.users["security"]).get(
        reverse("audit:list"), {"q": "action:pro.atmos.auth.oidc_token_exchange_success"}
    )

    assert "<svg" not in response.content.decode()


@pytest.mark.parametrize("pk", ["9223372036854775808", "9999999999999999999"])
def test_a_page_link_beyond_any_id_still_answers(people: People, client: Client, pk: str) -> None:
    response = signed_in(client, people.a.users["security"]).get(
        reverse("audit:list"), {"before": f"2099-01-01T00:00:00Z,{pk}"}
    )

    assert response.status_code == 200
    assert f"/audit/{people.a.mint.pk}/" in response.content.decode()


def test_the_chart_slices_are_evenly_spaced_bars_of_bounded_width() -> None:
    from datetime import UTC, datetime, timedelta

    from audit.selectors import Bucket
    from review.chart import HEIGHT, chart_bars

    start = datetime(2026, 11, 1, tzinfo=UTC)
    bars = chart_bars([Bucket(start + timedelta(days=day), allowed=day, refused=4 - day) for day in range(5)])

    assert [bar.x for bar in bars] == [0.0, 144.0, 288.0, 432.0, 576.0]
    assert {bar.width for bar in bars} == {24.0}
    assert bars[4].allowed_y == HEIGHT - bars[4].allowed_height and bars[4].refused_height == 0.0
    assert bars[0].label == "2026-11-01 00:00 UTC: 0 minted, 4 refused"


def _queries_of_the_list(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("audit:list")).status_code == 200
    return len(queries.captured_queries)


def test_the_list_reads_as_many_queries_for_forty_rows_as_for_two(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    two_rows = _queries_of_the_list(client)
    for number in range(38):
        audit_record(
            action=AuditEvent.Action.TOKEN_MINTED,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id=f"req_rows_{number}",
            workspace_public_id=people.a.workspace.public_id,
            identity={"repository": f"acme/caller-{number}", "actor": "octocat"},
            sources=[{"repository": f"acme/source-{n}", "decision": "granted"} for n in range(number % 3 + 1)],
        )

    assert _queries_of_the_list(client) == two_rows


def test_each_row_shows_how_many_sources_its_event_decided(people: People, client: Client) -> None:
    audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_three_sources",
        workspace_public_id=people.a.workspace.public_id,
        identity={"repository": "acme/three"},
        sources=[{"repository": f"acme/source-{n}", "decision": "granted"} for n in range(3)],
    )
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    counts = re.findall(r"<td>(\d+)</td>\n</tr>", body)
    assert counts == ["3", "1", "1"]
