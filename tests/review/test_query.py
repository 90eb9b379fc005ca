"""audit.query: GitHub's audit-log syntax, a table of queries and the rows they select, a table of bad
queries and their sentences, and hostile input that is refused with a sentence, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.models import AuditEvent
from audit.query import MAX_QUERY_LENGTH, AuditQueryError, query_filter, query_terms, query_with
from audit.services import audit_record
from tests.review.conftest import redated

pytestmark = pytest.mark.django_db

A, D = AuditEvent.Action, AuditEvent.Outcome
# name -> (created, action, outcome, error tag, identity, sources); the requests' events here are stored
# under their legacy names, which the `pro.atmos.*` names must find (a test below mixes both).
EVENTS = {
    "infra-mint": (
        "2026-11-02T10:00:00",
        A.LEGACY_STS_MINT,
        D.ALLOWED,
        "",
        {"repository": "acme/infra", "ref": "refs/heads/main", "actor": "octocat", "workflow": "deploy"},
        [{"repository": "acme/terraform-modules", "decision": "granted", "rule": 0, "fingerprint": "fp1"}],
    ),
    "infra-refused": (
        "2026-11-05T23:59:59",
        A.LEGACY_STS_MINT,
        D.DENIED,
        "",
        {"repository": "acme/infra", "ref": "refs/heads/feature", "actor": "mallory", "workflow": "plan all"},
        [{"repository": "acme/Terraform-Modules", "decision": "excluded", "reason": "trust_policy_denied"}],
    ),
    "app-exchange": (
        "2026-11-07T12:00:00",
        A.LEGACY_OIDC_EXCHANGE,
        D.ALLOWED,
        "",
        {"repository": "acme/app", "ref": "refs/heads/main", "actor": "octocat", "workflow": "ci"},
        [],
    ),
    "app-exchange-refused": (
        "2026-11-08T00:00:00",
        A.LEGACY_OIDC_EXCHANGE,
        D.DENIED,
        "OidcTokenExpired",
        {"repository": "acme/app", "ref": "refs/heads/main", "actor": "octocat", "workflow": "ci"},
        [],
    ),
    "plan-change": ("2026-10-30T08:00:00", A.ENTITLEMENT_PLAN_CHANGED, D.ALLOWED, "", {"actor": "alice"}, []),
}


@pytest.fixture
def events() -> dict[str, int]:
    ids = {}
    for name, (created, action, outcome, tag, identity, sources) in EVENTS.items():
        event = audit_record(
            action=action,
            outcome=outcome,
            request_id=f"req_{name}",
            workspace_public_id="ws_1",
            identity=identity,
            error_tag=tag,
            sources=sources,
        )
        # The writer stamps the current time; the table needs known times. Re-dating a row breaks its
        # chain link, which these tests of the search language do not read.
        ids[name] = event.pk
        redated(event.pk, datetime.fromisoformat(created).replace(tzinfo=UTC))
    return ids


def selected(events: dict[str, int], query: str) -> set[str]:
    found = set(AuditEvent.objects.filter(query_filter(query)).values_list("id", flat=True))
    return {name for name, pk in events.items() if pk in found}


ALL = set(EVENTS)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ALL),
        ("   ", ALL),
        ("repo:acme/infra", {"infra-mint", "infra-refused"}),
        ("repo:ACME/Infra", {"infra-mint", "infra-refused"}),
        ("-repo:acme/infra", ALL - {"infra-mint", "infra-refused"}),
        ("source:acme/terraform-modules", {"infra-mint", "infra-refused"}),
        ("source:acme/terraform-modules reason:trust_policy_denied", {"infra-refused"}),
        ("-source:acme/terraform-modules", ALL - {"infra-mint", "infra-refused"}),
        ("actor:octocat", {"infra-mint", "app-exchange", "app-exchange-refused"}),
        ("actor:octocat -repo:acme/app", {"infra-mint"}),
        ("ref:refs/heads/main", {"infra-mint", "app-exchange", "app-exchange-refused"}),
        ("workflow:deploy", {"infra-mint"}),
        ('workflow:"plan all"', {"infra-refused"}),
        ("action:pro.atmos.sts.token_minted", {"infra-mint"}),
        ("action:pro.atmos.sts.mint_denied", {"infra-refused"}),
        ("action:sts.mint", {"infra-mint", "infra-refused"}),
        ("action:pro.atmos.auth.oidc_token_exchange_success", {"app-exchange"}),
        ("action:pro.atmos.auth.oidc_token_exchange_failure", {"app-exchange-refused"}),
        ("action:pro.atmos.entitlement.plan_changed", {"plan-change"}),
        ("outcome:denied", {"infra-refused", "app-exchange-refused"}),
        ("OUTCOME:DENIED", {"infra-refused", "app-exchange-refused"}),
        ("reason:trust_policy_denied", {"infra-refused"}),
        ("reason:OidcTokenExpired", {"app-exchange-refused"}),
        ("created:>=2026-11-05", {"infra-refused", "app-exchange", "app-exchange-refused"}),
        ("created:>2026-11-05", {"app-exchange", "app-exchange-refused"}),
        ("created:<2026-11-02", {"plan-change"}),
        ("created:<=2026-11-02", {"plan-change", "infra-mint"}),
        ("created:2026-11-05", {"infra-refused"}),
        ("created:2026-11-01..2026-11-07", {"infra-mint", "infra-refused", "app-exchange"}),
        ("created:2026-11-06..*", {"app-exchange", "app-exchange-refused"}),
        ("created:*..2026-10-31", {"plan-change"}),
        ("created:>=2026-11-07T12:00:00Z", {"app-exchange", "app-exchange-refused"}),
        ("mallory", {"infra-refused"}),
        ("-octocat", {"infra-refused", "plan-change"}),
        ('"plan all"', {"infra-refused"}),
        ("req_plan-change", {"plan-change"}),
        ("repo:acme/infra\toutcome:allowed\n", {"infra-mint"}),
        ("'; DROP TABLE audit_auditevent; --", set()),
        ("repo:\"acme/infra' OR '1'='1\"", set()),
        ("%", set()),
    ],
)
def test_a_query_selects_exactly_its_rows(events: dict[str, int], query: str, names: set[str]) -> None:
    assert selected(events, query) == names


TYPED = {
    "legacy-mint": (A.LEGACY_STS_MINT, D.ALLOWED),
    "legacy-mint-error": (A.LEGACY_STS_MINT, D.ERROR),
    "new-mint": (A.TOKEN_MINTED, D.ALLOWED),
    "new-mint-denied": (A.MINT_DENIED, D.DENIED),
    "legacy-exchange-denied": (A.LEGACY_OIDC_EXCHANGE, D.DENIED),
    "new-exchange": (A.OIDC_TOKEN_EXCHANGE_SUCCESS, D.ALLOWED),
    "legacy-revoke-denied": (A.LEGACY_STS_REVOKE, D.DENIED),
    "new-revoke": (A.TOKEN_REVOKED, D.ALLOWED),
}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("action:pro.atmos.sts.token_minted", {"legacy-mint", "new-mint"}),
        ("action:pro.atmos.sts.mint_denied", {"legacy-mint-error", "new-mint-denied"}),
        ("action:pro.atmos.auth.oidc_token_exchange_success", {"new-exchange"}),
        ("action:pro.atmos.auth.oidc_token_exchange_failure", {"legacy-exchange-denied"}),
        ("action:pro.atmos.sts.token_revoked", {"legacy-revoke-denied", "new-revoke"}),
        ("action:sts.mint", {"legacy-mint", "legacy-mint-error", "new-mint", "new-mint-denied"}),
        ("action:sts.revoke", {"legacy-revoke-denied", "new-revoke"}),
        ("-action:pro.atmos.sts.token_minted", set(TYPED) - {"legacy-mint", "new-mint"}),
        ("action:PRO.ATMOS.STS.TOKEN_MINTED outcome:allowed", {"legacy-mint", "new-mint"}),
    ],
)
def test_a_type_finds_its_events_under_either_name(query: str, names: set[str]) -> None:
    ids = {
        name: audit_record(action=action, outcome=outcome, request_id=f"req_{name}", workspace_public_id="ws_t").pk
        for name, (action, outcome) in TYPED.items()
    }

    assert selected(ids, query) == names


def test_every_stored_event_reads_under_a_pro_atmos_type() -> None:
    for name, (action, outcome) in TYPED.items():
        event = audit_record(action=action, outcome=outcome, request_id=f"req_{name}")
        assert event.event_type.startswith("pro.atmos.") and event.event_type in A.values
        assert AuditEvent.objects.filter(query_filter(f"action:{event.event_type}"), pk=event.pk).exists()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour:red", "Unknown qualifier 'colour:'; known: repo:, source:, actor:, ref:, workflow:, action:"),
        ("repo:", "'repo:' needs a value."),
        ('repo:""', "'repo:' needs a value."),
        ('""', "An empty quoted text matches nothing."),
        ('workflow:"plan all', "A quote is not closed."),
        ('foo"bar"', "The query cannot be read at character 1."),
        ("action:pro.atmos.sts.everything", "Unknown action 'pro.atmos.sts.everything'; known: pro.atmos.auth."),
        ("outcome:maybe", "Unknown outcome 'maybe'; known: allowed, denied, error."),
        ("created:yesterday", "'yesterday' is not a date: write YYYY-MM-DD"),
        ("created:>=2026-13-01", "'2026-13-01' is not a date"),
        ("created:2026-11-01..soon", "'soon' is not a date"),
        ("created:>", "'>' is not a date"),
        ("repo:a\x00b", "The query contains control characters."),
        ("actor:\x1b[31mred", "The query contains control characters."),
        ("repo:acme/\u202egnp.exe", "The query contains control characters."),
        ("actor:a\x85b", "The query contains control characters."),
        ("x" * (MAX_QUERY_LENGTH + 1), "The query is longer than 1000 characters."),
        (" ".join(["octocat"] * 21), "The query has more than 20 terms."),
        ("repo:" + "a" * 256, "A value is longer than 255 characters."),
    ],
)
def test_a_bad_query_says_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(AuditQueryError) as raised:
        query_filter(query)

    assert str(raised.value).startswith(message)


def test_an_unknown_qualifier_is_not_echoed_at_length() -> None:
    with pytest.raises(AuditQueryError) as raised:
        query_filter("a" * 900 + ":b")

    assert len(str(raised.value)) < 200


def test_quotes_and_escapes_round_trip_through_the_written_form() -> None:
    terms = query_terms(r'-workflow:"say \"hi\" \\ now" repo:acme/x')

    assert [str(term) for term in terms] == [r'-workflow:"say \"hi\" \\ now"', "repo:acme/x"]
    assert terms[0].value == r'say "hi" \ now' and terms[0].negated


@pytest.mark.parametrize(
    ("query", "key", "value", "result"),
    [
        ("", "outcome", "denied", "outcome:denied"),
        ("repo:acme/infra", "outcome", "denied", "repo:acme/infra outcome:denied"),
        ("outcome:denied", "outcome", "denied", "outcome:denied"),
        ("octocat", "workflow", "plan all", 'octocat workflow:"plan all"'),
        ('bad "query', "repo", "acme/x", "repo:acme/x"),
    ],
)
def test_a_facet_adds_its_qualifier_once(query: str, key: str, value: str, result: str) -> None:
    assert query_with(query, key=key, value=value) == result
