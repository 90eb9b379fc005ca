"""The development server's request log shows the setup URL without GitHub's one-use code."""

from __future__ import annotations

import logging

import pytest
from django.test import Client


def test_the_request_line_of_the_setup_url_is_logged_without_its_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    line = "GET /github/setup?code=0123456789abcdef0123&installation_id=5&state=eyJ.x HTTP/1.1"

    logging.getLogger("django.server").info('"%s" %s %s', line, "200", "2946")

    assert '"GET /github/setup?[query removed] HTTP/1.1" 200 2946' in caplog.text
    assert "0123456789abcdef0123" not in caplog.text


def test_other_request_lines_keep_their_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    logging.getLogger("django.server").info('"%s" %s %s', "GET /audit/?q=repo:acme/infra HTTP/1.1", "200", "10")

    assert "/audit/?q=repo:acme/infra" in caplog.text


@pytest.mark.django_db
def test_the_login_page_a_person_not_signed_in_is_sent_to_is_logged_without_the_code_in_its_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = "fedcba9876543210fedc"
    sent_to = Client().get("/github/setup", {"state": "eyJ.x", "code": code, "installation_id": "5"})
    assert sent_to.status_code == 302 and "%26code%3D" + code in sent_to["Location"]  # what the server logs next
    caplog.set_level(logging.INFO)

    for method in ("GET", "POST"):
        logging.getLogger("django.server").info('"%s" %s %s', f"{method} {sent_to['Location']} HTTP/1.1", "200", "1")

    assert code not in caplog.text
    assert '"GET /admin/login/?next=/github/setup%3F[query removed] HTTP/1.1" 200 1' in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "/admin/login/?next=%2Fgithub%2Fsetup%3Fcode%3DSECRETCODE%26state%3Ds",
        "/admin/login/?next=%2fgithub%2fsetup%3fcode%3dSECRETCODE",
        "/admin/login/?next=/github/setup%253Fcode%253DSECRETCODE",
        "/admin/login/?next=%252Fgithub%252Fsetup%253Fcode%253DSECRETCODE&x=1",
        "/admin/login/?x=1&next=/github/setup%3Fstate%3Ds%26code%3DSECRETCODE",
    ],
)
def test_the_setup_url_encoded_any_way_in_a_request_line_loses_its_query(
    caplog: pytest.LogCaptureFixture, url: str
) -> None:
    caplog.set_level(logging.INFO)

    logging.getLogger("django.server").info('"%s" %s %s', f"GET {url} HTTP/1.1", "200", "1")

    assert "SECRETCODE" not in caplog.text and "[query removed] HTTP/1.1" in caplog.text


def test_a_next_to_another_page_keeps_its_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    line = "GET /admin/login/?next=/audit/%3Fq%3Drepo%3Aacme HTTP/1.1"

    logging.getLogger("django.server").info('"%s" %s %s', line, "200", "1")

    assert "/admin/login/?next=/audit/%3Fq%3Drepo%3Aacme" in caplog.text
