"""The development server's request log shows the setup URL without GitHub's one-use code."""

from __future__ import annotations

import logging

import pytest


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
