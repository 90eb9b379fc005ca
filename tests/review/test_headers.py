"""The review pages' security headers: a Content-Security-Policy without 'unsafe-inline' (and no inline
script or style to need it), no framing, no caching, and no method that could change anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.review.conftest import People, signed_in

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "audit"


def _pages(people: People) -> list[str]:
    return [
        reverse("audit:list"),
        reverse("audit:detail", args=[people.b.mint.pk]),  # another workspace's: not found
        "/audit/nothing-here/",
        reverse("audit:list") + "?q=colour:red",
        reverse("audit:detail", args=[people.a.mint.pk]),
        reverse("audit:export-csv"),
        reverse("audit:export-jsonl"),
    ]


def test_every_page_carries_the_policy_and_frame_denial(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    for page in _pages(people):
        response = client.get(page)
        policy = response["Content-Security-Policy"]

        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["Cache-Control"] == "no-store, private"


def test_the_rendered_pages_hold_no_inline_script_or_style(people: People, client: Client) -> None:
    signed_in(client, people.a.users["security"])
    for page in _pages(people)[:5]:
        body = client.get(page).content.decode()

        assert not re.search(r"<script(?![^>]*\ssrc=)", body) and "<style" not in body
        assert not re.search(r"\sstyle=", body) and not re.search(r"\son[a-z]+=", body)


def test_the_templates_hold_no_inline_script_or_style() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert "<script" not in text and "<style" not in text and " style=" not in text, template


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_refusals_and_redirects_carry_the_policy_too(people: People, client: Client, who: str) -> None:
    if who == "outsider":
        signed_in(client, people.outsider)

    response = client.get(reverse("audit:list"))

    assert response.status_code in (302, 403)
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_pages_outside_the_audit_pages_keep_their_own_headers(people: People, client: Client) -> None:
    response = client.get(reverse("healthz"))

    assert "Content-Security-Policy" not in response


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_pages_answer_only_reads(people: People, client: Client, method: str) -> None:
    signed_in(client, people.a.users["security"])

    assert getattr(client, method)(reverse("audit:list")).status_code == 405
