"""The receiver: signed deliveries recorded once and queued; anything else refused with no side effect."""

from __future__ import annotations

import json
import uuid

import pytest

from audit.models import AuditEvent
from github_app.webhooks import signature_matches
from sts.webhooks.models import WebhookDelivery
from sts.webhooks.receiver import MAX_BODY_BYTES
from workspaces.models import GitHubInstallation

from .conftest import RETIRED_SECRET, SECRET, Sender, installation_payload, owned_installation, signature

pytestmark = pytest.mark.django_db


def nothing_happened() -> None:
    assert not WebhookDelivery.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="pro.atmos.installation").exists()


def test_the_signature_check_matches_githubs_published_vector() -> None:
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_matches(body=b"Hello, World!", header=header, secrets=[SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=ünïcode",
    ],
)
def test_the_signature_check_refuses_a_missing_or_malformed_header(header: str | None) -> None:
    assert not signature_matches(body=b"Hello, World!", header=header, secrets=[SECRET])


def test_the_signature_check_accepts_any_current_secret_and_no_other() -> None:
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_matches(body=b"Hello, World!", header=header, secrets=["new secret", SECRET])
    assert not signature_matches(body=b"Hello, World!", header=header, secrets=["new secret"])
    assert not signature_matches(body=b"Hello, World!", header=header, secrets=[])


def test_a_signed_delivery_is_recorded_and_its_work_done(sender: Sender) -> None:
    owned_installation(42)

    response = sender.send("installation", installation_payload("suspend", 42), guid="guid-1")

    assert response.status_code == 202
    assert response.json() == {"delivery": "guid-1", "status": "queued"}
    delivery = WebhookDelivery.objects.get(guid="guid-1")
    assert (delivery.event, delivery.action, delivery.installation_github_id) == ("installation", "suspend", 42)
    assert (delivery.status, delivery.attempts) == ("done", 1)  # Celery runs eagerly in tests
    assert GitHubInstallation.objects.get(github_id=42).is_suspended


def test_the_same_delivery_is_processed_once(sender: Sender) -> None:
    owned_installation(42)
    sender.send("installation", installation_payload("suspend", 42), guid="guid-1")
    sender.send("installation", installation_payload("unsuspend", 42), guid="guid-2")

    again = sender.send("installation", installation_payload("suspend", 42), guid="guid-1")

    assert again.status_code == 200
    assert again.json() == {"delivery": "guid-1", "status": "duplicate"}
    assert not GitHubInstallation.objects.get(github_id=42).is_suspended
    assert WebhookDelivery.objects.get(guid="guid-1").attempts == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_SUSPENDED).count() == 1


def test_a_delivery_signed_with_a_second_secret_during_a_rotation_is_accepted(sender: Sender, settings) -> None:
    settings.GITHUB_WEBHOOK_SECRETS = ["the new secret", SECRET]
    assert sender.send("ping", {"zen": "Keep it logically awesome."}).status_code == 200


def test_an_event_we_do_not_act_on_is_acknowledged_and_recorded_without_its_payload(sender: Sender) -> None:
    response = sender.send("check_run", {"action": "completed", "check_run": {"id": 1}}, guid="guid-ping")

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    delivery = WebhookDelivery.objects.get(guid="guid-ping")
    assert (delivery.status, delivery.payload) == ("ignored", {})


def test_an_unsigned_delivery_is_refused(sender: Sender) -> None:
    owned_installation(42)
    response = sender.send("installation", installation_payload("suspend", 42), secret=None)
    assert response.status_code == 401
    assert response.json()["error"] == "WebhookSignatureInvalid"
    nothing_happened()
    assert not GitHubInstallation.objects.get(github_id=42).is_suspended


def test_a_delivery_signed_with_a_retired_secret_is_refused(sender: Sender) -> None:
    owned_installation(42)
    assert sender.send("installation", installation_payload("suspend", 42), secret=RETIRED_SECRET).status_code == 401
    nothing_happened()


def test_a_signed_delivery_whose_body_was_altered_is_refused(sender: Sender) -> None:
    owned_installation(42)
    signed = json.dumps(installation_payload("unsuspend", 42)).encode()
    altered = signed.replace(b"unsuspend", b"suspend")

    response = sender.send("installation", None, body=altered, signed_body=signed)

    assert response.status_code == 401
    nothing_happened()


def test_no_secret_configured_refuses_every_delivery(sender: Sender, settings) -> None:
    settings.GITHUB_WEBHOOK_SECRETS = []
    assert sender.send("ping", {"zen": "x"}).status_code == 401
    nothing_happened()


def test_a_body_over_the_cap_is_refused_before_it_is_read(sender: Sender) -> None:
    body = b'{"zen": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = sender.send("ping", None, body=body)
    assert response.status_code == 413
    assert response.json()["error"] == "WebhookTooLarge"
    nothing_happened()


def test_a_body_at_the_cap_is_read_whole(sender: Sender) -> None:
    filler = MAX_BODY_BYTES - len(b'{"zen": ""}')
    body = b'{"zen": "' + b"x" * filler + b'"}'
    assert len(body) == MAX_BODY_BYTES
    assert sender.send("ping", None, body=body).status_code == 200


@pytest.mark.parametrize("body", [b" ", b"not json", b'{"action": ', b"\xff\xfe", b"[" * 100_000])
def test_a_signed_body_that_is_not_json_is_refused(sender: Sender, body: bytes) -> None:
    response = sender.send("installation", None, body=body)
    assert response.status_code == 400
    assert response.json()["error"] == "WebhookNotJson"
    nothing_happened()


def test_a_form_encoded_delivery_is_refused(sender: Sender) -> None:
    response = sender.send("ping", None, body=b"payload=%7B%7D", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    nothing_happened()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-GitHub-Delivery": ""},
        {"X-GitHub-Event": ""},
        {"X-GitHub-Delivery": "x" * 65},
        {"X-GitHub-Delivery": "../../etc"},
        {"X-GitHub-Event": "Installation; drop"},
    ],
)
def test_a_delivery_without_a_proper_guid_or_event_name_is_refused(sender: Sender, headers: dict[str, str]) -> None:
    assert sender.send("ping", {"zen": "x"}, headers=headers).status_code == 400
    nothing_happened()


def test_the_receiver_answers_only_post(client) -> None:
    assert client.get("/webhooks/github").status_code == 405


def test_a_delivery_whose_work_fails_for_good_is_recorded_as_failed(sender: Sender, monkeypatch) -> None:
    # A stand-in for a bug in a handler: no real input makes a handler fail, by design.
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("sts.webhooks.services._dispatch", broken)
    owned_installation(42)
    guid = str(uuid.uuid4())

    with pytest.raises(RuntimeError):  # an eager task raises in the test; a worker records it and goes on
        sender.send("installation", installation_payload("suspend", 42), guid=guid)

    delivery = WebhookDelivery.objects.get(guid=guid)
    assert (delivery.status, delivery.error_tag) == ("failed", "RuntimeError")
    monkeypatch.undo()
    redelivered = sender.send("installation", installation_payload("suspend", 42), guid=guid)
    assert redelivered.status_code == 202
    assert WebhookDelivery.objects.get(guid=guid).status == "done"
    assert GitHubInstallation.objects.get(github_id=42).is_suspended


def test_the_secrets_and_the_signature_never_reach_an_answer_a_log_or_a_record(
    sender: Sender, settings, caplog
) -> None:
    settings.GITHUB_WEBHOOK_SECRETS = [SECRET, "the-second-secret"]
    owned_installation(42)
    caplog.set_level("DEBUG")
    payload = installation_payload("suspend", 42)
    signed = signature(SECRET, json.dumps(payload).encode())

    answers = [
        sender.send("installation", payload),
        sender.send("installation", payload, secret=RETIRED_SECRET),
        sender.send("installation", None, body=b"not json"),
    ]

    seen = " ".join(answer.content.decode() for answer in answers) + caplog.text
    seen += json.dumps(list(WebhookDelivery.objects.values()), default=str)
    seen += json.dumps(list(AuditEvent.objects.values("identity", "detail")), default=str)
    for secret in (SECRET, "the-second-secret", RETIRED_SECRET, signed.removeprefix("sha256=")):
        assert secret not in seen
