"""The application server serves the admin's static files: compressed, with hashed names, after collectstatic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from tests.workspaces.admin.tenants import Tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def collected(settings: Any, tmp_path: Path) -> Path:
    """collectstatic into a directory of this test's own, served from there alone, as in production."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return Path(settings.STATIC_ROOT)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "demo with DEBUG on"])
def test_the_admin_links_hashed_stylesheets_that_the_server_serves_compressed(
    collected: Path, tenants: Tenants, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug
    client = Client()  # a new client loads the middleware, and so WhiteNoise, with this test's settings
    page = client.get("/admin/login/").content.decode()
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet is not None, "the login page links no hashed base.css"
    response = client.get(stylesheet.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert (collected / stylesheet.group(1).removeprefix("/static/")).exists()


def test_a_file_that_was_never_collected_is_a_404(collected: Path, tenants: Tenants) -> None:
    assert Client().get("/static/admin/css/not-there.css").status_code == 404


def test_before_any_collectstatic_pages_link_the_apps_files_by_their_own_names(
    settings: Any, tmp_path: Path, tenants: Tenants
) -> None:
    settings.STATIC_ROOT = tmp_path / "never-collected"
    settings.STATIC_ROOT.mkdir()
    settings.WHITENOISE_USE_FINDERS = True  # as with DEBUG on, in development
    client = Client()
    page = client.get("/admin/login/").content.decode()
    assert 'href="/static/admin/css/base.css"' in page
    assert client.get("/static/admin/css/base.css").status_code == 200
