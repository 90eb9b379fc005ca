"""github_app.client against the simulator: the calls the mint depends on, and GitHub's failures mapped to reasons."""

from __future__ import annotations

import pytest

from github_app.client import GitHubApp
from github_app.errors import GitHubInstallationSuspended, GitHubRateLimited, GitHubUnavailable, GitHubUnprocessable

from .conftest import ADMITS_ACME_APP

POLICY = ".atmos/pro/sts/default.yaml"


@pytest.fixture
def app(github_sim):
    return GitHubApp.from_settings()


def test_it_reads_a_file_and_revalidates_it_with_its_etag(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})

    first = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    again = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY, etag=first.etag)

    assert first.content == ADMITS_ACME_APP.encode()
    assert first.etag
    assert again.not_modified is True


def test_a_missing_file_and_a_directory_are_no_file(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})

    assert app.read_file(installation_id=installation, full_name="acme/a", path="nope.yaml").content is None
    assert app.read_file(installation_id=installation, full_name="acme/a", path=".atmos/pro/sts").content is None


def test_a_passing_server_error_on_a_read_is_retried(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    github_sim.fault("contents", kind="status", status=502, times=1)

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert found.content == ADMITS_ACME_APP.encode()


def test_a_lasting_server_error_is_unavailable_after_bounded_retries(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    github_sim.reset_calls()
    github_sim.fault("contents", kind="status", status=503, times=10)

    with pytest.raises(GitHubUnavailable):
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    assert github_sim.calls["contents"] == 3


def test_an_exhausted_rate_limit_is_honoured_without_calling_again(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    github_sim.fault("contents", kind="rate_limit", times=1)

    with pytest.raises(GitHubRateLimited):
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    github_sim.reset_calls()
    with pytest.raises(GitHubRateLimited):
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    assert github_sim.calls["contents"] == 0


def test_a_secondary_rate_limit_is_a_rate_limit(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    github_sim.fault("access_tokens", kind="secondary_rate_limit", retry_after=30)

    with pytest.raises(GitHubRateLimited) as raised:
        app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
    assert raised.value.retry_at > 0


def test_a_token_for_a_repository_outside_the_installation_is_unprocessable(github_sim, app):
    installation = github_sim.add_installation("acme")
    other = github_sim.add_installation("globex")
    github_sim.add_repository("globex/b", installation_id=other)

    with pytest.raises(GitHubUnprocessable):
        app.create_installation_token(installation, repositories=["b"], permissions={"contents": "read"})


def test_a_suspended_installation_is_reported_as_such(github_sim, app):
    installation = github_sim.add_installation("acme", suspended=True)
    github_sim.add_repository("acme/a", installation_id=installation)

    with pytest.raises(GitHubInstallationSuspended):
        app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})


def test_revocation_ends_the_token_and_a_second_revocation_still_counts(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    assert app.revoke_installation_token(token.token) is True
    assert github_sim.token_is_live(token.token) is False
    assert app.revoke_installation_token(token.token) is True


def test_the_client_never_shows_a_token_in_its_repr(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    assert token.token not in repr(token)
    assert github_sim.app_private_key_pem not in repr(app)
