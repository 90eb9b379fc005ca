"""github_app.client against the simulator: the calls the mint depends on, and GitHub's failures mapped to reasons."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from github_app.client import GitHubApp, Revocation
from github_app.credentials import github_memory_clear, reader_tokens
from github_app.errors import (
    GitHubAuthenticationFailed,
    GitHubError,
    GitHubFileTooLarge,
    GitHubInstallationSuspended,
    GitHubPermissionsNotGranted,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubUnprocessable,
)
from sts.reasons import Reason
from sts.sources import reason_for
from tests.sts.mint.conftest import ADMITS_ACME_APP

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
    assert app.read_file(installation_id=installation, full_name="acme/a", path=".atmos/pro/sts").kind == "dir"


def test_a_file_reports_the_path_github_answered(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert (found.path, found.kind) == (POLICY, "file")


def test_a_symlinked_policy_reports_the_target_path_so_the_caller_can_refuse_it(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository(
        "acme/a",
        installation_id=installation,
        files={"docs/anything.yaml": ADMITS_ACME_APP},
        symlinks={POLICY: "../../../docs/anything.yaml"},
    )

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert found.content == ADMITS_ACME_APP.encode()
    assert found.path == "docs/anything.yaml" != POLICY


def test_a_symlink_out_of_the_repository_is_no_file(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, symlinks={POLICY: "/etc/passwd"})

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert (found.content, found.path, found.kind) == (None, POLICY, "symlink")


def test_a_file_over_1_mb_is_a_typed_error(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    github_sim.put_file("acme/a", POLICY, b"#" * (1024 * 1024 + 1))

    with pytest.raises(GitHubFileTooLarge) as raised:
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    assert raised.value.status == 403


def test_a_renamed_repository_read_by_its_old_name_is_an_error_not_a_missing_file(github_sim, app):
    installation = github_sim.add_installation("acme")
    repo_id = github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    github_sim.rename_repository("acme/a", "b")

    with pytest.raises(GitHubError) as raised:
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    assert raised.value.status == 301
    by_id = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY, repository_id=repo_id)
    assert by_id.content == ADMITS_ACME_APP.encode()


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


def test_an_exhausted_rate_limit_is_remembered_in_the_shared_cache_not_the_process(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    github_sim.fault("access_tokens", kind="rate_limit", times=1)
    with pytest.raises(GitHubRateLimited):
        app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    # Another process starts with none of this one's memory; what it shares is the cache.
    github_memory_clear()
    github_sim.reset_calls()
    with pytest.raises(GitHubRateLimited):
        GitHubApp.from_settings().create_installation_token(
            installation, repositories=["a"], permissions={"contents": "read"}
        )
    assert github_sim.calls["access_tokens"] == 0
    cache.clear()  # GitHub's reset, as far as the cache can tell
    assert (
        GitHubApp.from_settings()
        .create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
        .token
    )


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


def test_revocation_ends_the_token_and_a_second_revocation_of_an_old_token_counts(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    first = app.revoke_installation_token(token.token, issued_at=time.time())
    again = app.revoke_installation_token(token.token, issued_at=time.time() - 3600)

    assert first is Revocation.REVOKED and first.confirmed
    assert github_sim.token_is_live(token.token) is False
    assert again is Revocation.ALREADY_INVALID and again.confirmed


def test_a_fresh_token_is_revoked_once_github_knows_it(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
    github_sim.reset_calls()

    outcome = app.revoke_installation_token(token.token, issued_at=time.time())

    assert outcome is Revocation.REVOKED
    assert github_sim.token_is_live(token.token) is False
    assert github_sim.calls["revoke"] > 1  # the first DELETE met GitHub's propagation delay


def test_a_401_inside_the_consistency_window_is_not_a_confirmed_revocation(github_sim, app, monkeypatch):
    monkeypatch.setattr("github_app.client.REVOKE_CONFIRM_SECONDS", 0.3)
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    github_sim.set_consistency(propagation_seconds=60)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    outcome = app.revoke_installation_token(token.token, issued_at=time.time())

    assert outcome is Revocation.UNCONFIRMED and not outcome.confirmed
    assert github_sim.token_is_live(token.token) is True


def test_a_401_for_a_token_of_unknown_age_is_not_confirmed(github_sim, app, monkeypatch):
    monkeypatch.setattr("github_app.client.REVOKE_CONFIRM_SECONDS", 0.3)
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
    github_sim.revoke_token(token.token)

    assert app.revoke_installation_token(token.token) is Revocation.UNCONFIRMED


def test_the_consistency_window_is_a_setting(github_sim, app, settings):
    settings.GITHUB_CONSISTENCY_SECONDS = 0
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
    github_sim.revoke_token(token.token)
    github_sim.reset_calls()

    assert app.revoke_installation_token(token.token, issued_at=time.time()) is Revocation.ALREADY_INVALID
    assert github_sim.calls["revoke"] == 1


def test_a_failing_github_raises_rather_than_confirming(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})
    github_sim.fault("revoke", status=502)

    with pytest.raises(GitHubUnavailable):
        app.revoke_installation_token(token.token, issued_at=time.time() - 3600)
    assert github_sim.token_is_live(token.token) is True


def test_our_fresh_reader_token_waits_for_github_instead_of_minting_another(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    github_sim.set_consistency(propagation_seconds=0.3, permissions_seconds=0.2)

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert found.content == ADMITS_ACME_APP.encode()
    assert github_sim.calls["access_tokens"] == 1
    assert github_sim.calls["contents"] > 1  # it met both the 401 and the 403 window


def test_listing_repositories_with_a_fresh_reader_token_waits_too(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)

    assert [r.full_name for r in app.installation_repositories(installation)] == ["acme/a"]
    assert github_sim.calls["access_tokens"] == 1


def test_a_reader_token_revoked_after_the_window_is_replaced_once(github_sim, app, settings):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    settings.GITHUB_CONSISTENCY_SECONDS = 0  # our reader token is now older than the window
    github_sim.set_consistency(propagation_seconds=0)
    github_sim.revoke_token(_current_reader_token(app, installation))

    found = app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)

    assert found.content == ADMITS_ACME_APP.encode()
    assert github_sim.calls["access_tokens"] == 2


def test_a_reader_token_github_never_accepts_fails_after_one_replacement(github_sim, app, settings):
    settings.GITHUB_CONSISTENCY_SECONDS = 0.2
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation, files={POLICY: ADMITS_ACME_APP})
    github_sim.set_consistency(propagation_seconds=60)

    with pytest.raises(GitHubAuthenticationFailed):
        app.read_file(installation_id=installation, full_name="acme/a", path=POLICY)
    assert github_sim.calls["access_tokens"] == 2


def test_permissions_the_installation_lacks_are_a_typed_error(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)

    with pytest.raises(GitHubPermissionsNotGranted) as raised:
        app.create_installation_token(installation, repositories=["a"], permissions={"contents": "write"})
    assert isinstance(raised.value, GitHubUnprocessable)
    assert reason_for(raised.value) == Reason.PERMISSIONS_NOT_INSTALLED


def test_a_repository_outside_the_installation_is_not_a_permissions_error(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("globex/b", installation_id=github_sim.add_installation("globex"))

    with pytest.raises(GitHubUnprocessable) as raised:
        app.create_installation_token(installation, repositories=["b"], permissions={"contents": "read"})
    assert not isinstance(raised.value, GitHubPermissionsNotGranted)


def test_the_client_never_shows_a_token_in_its_repr(github_sim, app):
    installation = github_sim.add_installation("acme")
    github_sim.add_repository("acme/a", installation_id=installation)
    token = app.create_installation_token(installation, repositories=["a"], permissions={"contents": "read"})

    assert token.token not in repr(token)
    assert github_sim.app_private_key_pem not in repr(app)


def _current_reader_token(app, installation_id):
    def no_new_token():
        raise AssertionError("the reader token should exist already")

    reader = reader_tokens.get(api_url=app.api_url, installation_id=installation_id, create=no_new_token)
    return reader.token
