"""What the simulated GitHub knows: accounts, installations, repositories, tokens, rate budgets, faults, keys.

The HTTP faces (``githubsim.api``, ``githubsim.control``, ``githubsim.git_http``) read and change this
state; none of them is imported here, so imports run one way: ``simulator`` -> faces -> ``state``.

Longer than 500 lines because every record here (accounts, installations, repositories,
tokens, budgets, faults, check runs) is read and changed under one lock and saved to one file, and a
seeding method often touches several of them at once; the OIDC issuer's half and the user-authorization
records, which stand alone, live in ``oidc_issuer`` and ``oauth``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import shutil
import string
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization

from githubsim.gitstore import BareRepository
from githubsim.keys import OidcKeyRing, load_or_create_rsa, load_or_create_tls
from githubsim.oauth import OAuthState
from githubsim.oidc_issuer import OidcIssuer, b64url

ENDPOINTS = frozenset(
    {
        "oidc_discovery",
        "oidc_jwks",
        "app",
        "repo_installation",
        "installation",
        "installation_repositories",
        "access_tokens",
        "contents",
        "revoke",
        "repository",
        "rate_limit",
        "git",
        "check_runs",
        "check_run",
        "check_run_update",
        "check_run_annotations",
        "pull_request_files",
        "user_installations",
        "user",
        "user_membership",
        "oauth_authorize",
        "oauth_access_token",
    }
)
# "malformed": a success status (200, or `status`) whose body is not the documented JSON, as a broken
# proxy or a GitHub incident can answer.
FAULT_KINDS = frozenset({"status", "timeout", "rate_limit", "secondary_rate_limit", "reset", "malformed"})
PERMISSION_LEVELS = {"read": 1, "write": 2, "admin": 3}
TOKEN_LIFETIME_SECONDS = 3600
DEFAULT_RATE_LIMIT = 5000
ANONYMOUS_RATE_LIMIT = 60

TokenReadiness = Literal["unknown", "permissions_pending", "ready"]


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    login: str
    id: int
    type: str

    def as_json(self, api_url: str) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": b64url(f"04:{self.type}{self.id}".encode()),
            "type": self.type,
            "site_admin": False,
            "url": f"{api_url}/users/{self.login}",
            "html_url": f"https://github.com/{self.login}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
        }


@dataclass
class Installation:
    id: int
    account: Account
    repository_selection: str
    permissions: dict[str, str]
    suspended_at: float | None
    created_at: float
    repository_ids: set[int] = field(default_factory=set)


@dataclass
class Repository:
    id: int
    owner: Account
    name: str
    private: bool
    default_branch: str
    git: BareRepository
    created_at: float

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class InstallationToken:
    digest: str
    installation_id: int
    repository_ids: frozenset[int] | None  # None: every repository the installation covers
    permissions: dict[str, str]
    expires_at: int
    repository_selection: str
    revoked: bool = False
    issued_at: float = 0.0


@dataclass
class CheckRun:
    """A check run an App created on a commit; `annotations` accumulate across updates, as on GitHub."""

    id: int
    repository_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: float
    completed_at: float | None
    output: dict[str, Any]
    annotations: list[dict[str, Any]]
    external_id: str = ""
    details_url: str | None = None


@dataclass
class PullRequest:
    """A pull request from a branch of the same repository into its default branch; `head_sha` moves
    with every commit pushed to the branch."""

    number: int
    repository_id: int
    head_branch: str
    base_branch: str
    head_sha: str
    base_sha: str


@dataclass(frozen=True)
class Event:
    """Something GitHub tells an App about with a webhook (`name` is `X-GitHub-Event`)."""

    name: str
    action: str | None
    installation: Installation
    repositories: tuple[Repository, ...] = ()
    push: Push | None = None
    pull_request: PullRequest | None = None


@dataclass(frozen=True)
class Push:
    """One commit pushed to a branch of a repository (its default branch unless `branch` says otherwise)
    by the simulator's seeding methods."""

    repository: Repository
    before: str
    after: str
    message: str
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    branch: str = ""


@dataclass
class Fault:
    kind: str
    status: int | None
    retry_after: int | None
    remaining: int


@dataclass
class RateBucket:
    limit: int
    used: int
    reset: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SimulatorState(OidcIssuer):
    """The state of a faithful, strict GitHub (App API, Actions OIDC issuer, git smart HTTP) on 127.0.0.1."""

    def __init__(self, state_dir: Path | None = None, *, persistent: bool = False) -> None:
        """``persistent``: keep installations, repositories and tokens in ``state_dir/state.json`` across
        restarts (the standalone simulator); keys, CA and git repositories are always kept there."""
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="githubsim-")
            state_dir = Path(self._tmp.name)
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.app_id = 424242
        self.app_slug = "atmos-pro-sts-sim"
        self.client_id = "Iv23liSimulatorClient1"
        self.client_secret = secrets.token_hex(20)  # the App's OAuth client secret (a new one per process)
        # The App's "Callback URL": where /login/oauth/authorize sends a person back; empty: any URL.
        self.oauth_callback_url = ""
        self.oauth = OAuthState()
        # GitHub hands out App keys as PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"); so does the simulator.
        app_key_path = self.state_dir / "app-private-key.pem"
        self._app_key = load_or_create_rsa(app_key_path, serialization.PrivateFormat.TraditionalOpenSSL)
        self.app_private_key_path = str(app_key_path)
        self.app_private_key_pem = app_key_path.read_text()
        self.app_public_key = self._app_key.public_key()
        self._oidc = OidcKeyRing(self.state_dir / "oidc-keys")
        tls = load_or_create_tls(self.state_dir / "tls")
        self.ca_file = str(tls.ca_file)
        self._tls = tls
        self.repos_dir = self.state_dir / "repos"
        # How long a "timeout" fault holds a connection: longer than a client timeout, short for a test run.
        self.timeout_hold_seconds = 3.0
        self.rate_limit = DEFAULT_RATE_LIMIT
        # Load settings (`set_load`): every API call answered after `latency_ms`, and one in `fail_one_in`
        # answered `fail_status` in GitHub's JSON error shape (0: never).
        self.latency_ms = 0
        self.fail_one_in = 0
        self.fail_status = 502
        self._api_calls = 0
        # GitHub is eventually consistent: a fresh installation token is unknown (401) to the API and to git
        # for a few seconds, then may answer 403 while its permissions are copied. 0 unless a test or the
        # control API sets them (the pytest fixture sets a small non-zero default).
        self.token_propagation_seconds = 0.0
        self.token_permissions_seconds = 0.0
        self.api_url = ""
        self.issuer = ""
        self.git_base_url = ""
        self.git_host = ""
        self.web_url = ""  # the web host (https://github.com, or https://HOST on GHES): OAuth lives there
        self._next_account_id = 1000001
        self._account_ids: dict[str, int] = {}  # kept across reset(): a login keeps its id, as on GitHub
        self._next_installation_id = 50000001
        self._next_repository_id = 690000001
        self._next_check_run_id = 28000000001
        self._token_serial = 0
        self.calls: collections.Counter[str] = collections.Counter()
        self.persistent = persistent
        self._listeners: list[Callable[[Event], None]] = []
        self._forget()
        if persistent and (self.state_dir / "state.json").exists():
            self._load()

    def _forget(self) -> None:
        self._accounts: dict[str, Account] = {}
        self.installations: dict[int, Installation] = {}
        self.repositories: dict[str, Repository] = {}  # keyed by lower-case full name
        self._renamed: dict[str, int] = {}  # a former lower-case full name -> the repository's id
        self._tokens: dict[str, InstallationToken] = {}
        self.tokens_issued: list[dict[str, Any]] = []
        self._faults: dict[str, list[Fault]] = {}
        # GitHub's "Recent Deliveries": one record per delivery (redeliveries included), newest last.
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.check_runs: dict[int, CheckRun] = {}
        self.pull_requests: dict[tuple[int, int], PullRequest] = {}  # (repository id, number)
        self.oauth.forget()
        self.oauth_callback_url = ""
        self.webhook_url = ""
        self.webhook_secret = ""
        self._rate: dict[str, RateBucket] = {}
        self.calls.clear()

    def reset(self) -> None:
        with self._lock:
            self._forget()
            if self.repos_dir.exists():
                shutil.rmtree(self.repos_dir)
            self._save()
            self.rate_limit = DEFAULT_RATE_LIMIT
            self.latency_ms, self.fail_one_in, self.fail_status, self._api_calls = 0, 0, 502, 0
            self.timeout_hold_seconds = 3.0
            self.token_propagation_seconds = 0.0
            self.token_permissions_seconds = 0.0
            # The current key stays; keys an earlier test rotated away leave the JWKS.
            self._oidc.unpublish_previous()

    # -- persistence (standalone mode) ---------------------------------------------------------

    def _save(self) -> None:
        if not self.persistent:
            return
        with self._lock:
            data = {
                "counters": [self._next_account_id, self._next_installation_id, self._next_repository_id],
                "account_ids": self._account_ids,
                "accounts": [dataclasses.asdict(a) for a in self._accounts.values()],
                "installations": [
                    {
                        **dataclasses.asdict(i),
                        "account": i.account.login.lower(),
                        "repository_ids": sorted(i.repository_ids),
                    }
                    for i in self.installations.values()
                ],
                "repositories": [self._repository_record(r) for r in self.repositories.values()],
                "tokens": [
                    {
                        **dataclasses.asdict(t),
                        "repository_ids": None if t.repository_ids is None else sorted(t.repository_ids),
                    }
                    for t in self._tokens.values()
                ],
                "tokens_issued": self.tokens_issued,
                "renamed": self._renamed,
            }
            target = self.state_dir / "state.json"
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(target)

    @staticmethod
    def _repository_record(repo: Repository) -> dict[str, Any]:
        fields = ("id", "name", "private", "default_branch", "created_at")
        return {**{k: getattr(repo, k) for k in fields}, "owner": repo.owner.login.lower()}

    def _load(self) -> None:
        data = json.loads((self.state_dir / "state.json").read_text())
        self._next_account_id, self._next_installation_id, self._next_repository_id = data["counters"]
        self._account_ids = dict(data["account_ids"])
        self._accounts = {a["login"].lower(): Account(**a) for a in data["accounts"]}
        for item in data["installations"]:
            item = {**item, "account": self._accounts[item["account"]], "repository_ids": set(item["repository_ids"])}
            self.installations[item["id"]] = Installation(**item)
        for item in data["repositories"]:
            owner = self._accounts[item.pop("owner")]
            repo = Repository(**item, owner=owner, git=BareRepository(self._repo_path(owner.login, item["name"])))
            self.repositories[repo.full_name.lower()] = repo
        for item in data["tokens"]:
            ids = item["repository_ids"]
            token = InstallationToken(**{**item, "repository_ids": None if ids is None else frozenset(ids)})
            self._tokens[token.digest] = token
        self.tokens_issued = list(data["tokens_issued"])
        self._renamed = {name: int(repo_id) for name, repo_id in data.get("renamed", {}).items()}

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- seeding -------------------------------------------------------------------------------

    def _account(self, login: str, account_type: str | None = None) -> Account:
        key = login.lower()
        account = self._accounts.get(key)
        if account is None:
            if key not in self._account_ids:
                self._account_ids[key] = self._next_account_id
                self._next_account_id += 1
            account = Account(login=login, id=self._account_ids[key], type=account_type or "Organization")
            self._accounts[key] = account
        elif account_type is not None:
            account.type = account_type
        return account

    def add_installation(
        self,
        account: str,
        *,
        account_type: str = "Organization",
        repository_selection: str = "selected",
        permissions: dict[str, str] | None = None,
        suspended: bool = False,
    ) -> int:
        if account_type not in ("Organization", "User"):
            raise ValueError("account_type must be 'Organization' or 'User'")
        if repository_selection not in ("selected", "all"):
            raise ValueError("repository_selection must be 'selected' or 'all'")
        perms = dict(permissions or {"contents": "read", "metadata": "read"})
        for level in perms.values():
            if level not in PERMISSION_LEVELS:
                raise ValueError(f"unknown permission level {level!r}")
        perms.setdefault("metadata", "read")
        with self._lock:
            if any(inst.account.login.lower() == account.lower() for inst in self.installations.values()):
                raise ValueError(f"the App is already installed on {account} (one installation per account)")
            installation = Installation(
                id=self._next_installation_id,
                account=self._account(account, account_type),
                repository_selection=repository_selection,
                permissions=perms,
                suspended_at=time.time() if suspended else None,
                created_at=time.time(),
            )
            self._next_installation_id += 1
            self.installations[installation.id] = installation
            self._save()
        self._emit(Event("installation", "created", installation))
        return installation.id

    def add_repository(
        self,
        full_name: str,
        *,
        installation_id: int | None = None,
        private: bool = True,
        default_branch: str = "main",
        files: dict[str, str] | None = None,
        symlinks: dict[str, str] | None = None,
    ) -> int:
        """``symlinks``: path -> target, stored as real git symlinks (the target is relative to the link)."""
        owner, name = self._split(full_name)
        contents: dict[str, bytes] = {"README.md": f"# {name}\n".encode()}
        for path, text in (files or {}).items():
            contents[self._clean_path(path)] = text.encode() if isinstance(text, str) else bytes(text)
        with self._lock:
            if full_name.lower() in self.repositories:
                raise ValueError(f"repository {full_name} already exists")
            account = self._account(owner)
            git = BareRepository.create(
                self._repo_path(account.login, name),
                default_branch=default_branch,
                files=contents,
                symlinks={self._clean_path(path): target for path, target in (symlinks or {}).items()},
            )
            repo = Repository(
                id=self._next_repository_id,
                owner=account,
                name=name,
                private=private,
                default_branch=default_branch,
                git=git,
                created_at=time.time(),
            )
            self._next_repository_id += 1
            self.repositories[full_name.lower()] = repo
            self._renamed.pop(full_name.lower(), None)  # a new repository takes a former name: no redirect
            if installation_id is not None:
                self.add_repository_to_installation(full_name, installation_id)
            self._save()
            return repo.id

    def put_file(self, full_name: str, path: str, content: str | bytes, *, branch: str = "") -> None:
        """Commit a file to the default branch, or to ``branch`` (made from the default branch if new)."""
        repo = self._repo(full_name)
        data = content.encode() if isinstance(content, str) else bytes(content)
        clean = self._clean_path(path)
        with self._lock:
            target = branch or repo.default_branch
            if branch:
                repo.git.create_branch(branch, start=repo.default_branch)
            before = repo.git.resolve(target) or ""
            existed = clean in repo.git.flat_tree(target)
            after = repo.git.put_file(branch=target, path=clean, content=data)
            moved = self._pull_requests_moved(repo, target, after)
        changed = {"modified": (clean,)} if existed else {"added": (clean,)}
        self._pushed(Push(repo, before, after, f"Update {clean}", **changed, branch=branch))
        self._synchronized(repo, moved)

    def put_symlink(self, full_name: str, path: str, target: str) -> None:
        """Commit a symlink at ``path`` pointing to ``target`` (relative to the link, as ``ln -s`` takes it)."""
        repo = self._repo(full_name)
        if not target or "\0" in target:
            raise ValueError("a symlink needs a target")
        clean = self._clean_path(path)
        with self._lock:
            before = repo.git.resolve(repo.default_branch) or ""
            existed = clean in repo.git.flat_tree(repo.default_branch)
            after = repo.git.put_symlink(branch=repo.default_branch, path=clean, target=target)
        changed = {"modified": (clean,)} if existed else {"added": (clean,)}
        self._pushed(Push(repo, before, after, f"Link {clean}", **changed))

    def rename_repository(self, full_name: str, new_name: str) -> None:
        """Rename within the owner: the old name answers 301 to the repository's id until it is reused."""
        repo = self._repo(full_name)
        if not new_name or "/" in new_name:
            raise ValueError(f"bad repository name {new_name!r}")
        new_full_name = f"{repo.owner.login}/{new_name}"
        with self._lock:
            if new_full_name.lower() in self.repositories and new_full_name.lower() != full_name.lower():
                raise ValueError(f"repository {new_full_name} already exists")
            del self.repositories[full_name.lower()]
            target = self._repo_path(repo.owner.login, new_name)
            if target != repo.git.path:
                shutil.move(repo.git.path, target)
                repo.git = BareRepository(target)
            repo.name = new_name
            self.repositories[new_full_name.lower()] = repo
            self._renamed.pop(new_full_name.lower(), None)
            if full_name.lower() != new_full_name.lower():
                self._renamed[full_name.lower()] = repo.id
            self._save()

    def repository_by_id(self, repository_id: int) -> Repository | None:
        with self._lock:
            return next((r for r in self.repositories.values() if r.id == repository_id), None)

    def renamed_to(self, full_name: str) -> Repository | None:
        """The repository that was called ``full_name`` before a rename, if that name was not reused."""
        repo_id = self._renamed.get(full_name.lower())
        return self.repository_by_id(repo_id) if repo_id is not None else None

    def delete_file(self, full_name: str, path: str, *, branch: str = "") -> None:
        repo = self._repo(full_name)
        clean = self._clean_path(path)
        with self._lock:
            target = branch or repo.default_branch
            before = repo.git.resolve(target) or ""
            after = repo.git.delete_file(branch=target, path=clean)
            moved = self._pull_requests_moved(repo, target, after)
        self._pushed(Push(repo, before, after, f"Delete {clean}", removed=(clean,), branch=branch))
        self._synchronized(repo, moved)

    def open_pull_request(self, full_name: str, *, branch: str) -> int:
        """A pull request from ``branch`` (which must exist: ``put_file(..., branch=...)``) into the
        default branch; GitHub sends ``pull_request`` ``opened``. Returns its number."""
        repo = self._repo(full_name)
        with self._lock:
            head, base = repo.git.resolve(branch), repo.git.resolve(repo.default_branch)
            if head is None or base is None or branch == repo.default_branch:
                raise ValueError(f"no branch {branch!r} to open a pull request from")
            number = 1 + sum(1 for pr in self.pull_requests.values() if pr.repository_id == repo.id)
            pull = PullRequest(number, repo.id, branch, repo.default_branch, head, base)
            self.pull_requests[(repo.id, number)] = pull
        installation = self.installation_for(repo)
        if installation is not None:
            self._emit(Event("pull_request", "opened", installation, (repo,), pull_request=pull))
        return number

    def _pull_requests_moved(self, repo: Repository, branch: str, head: str) -> list[PullRequest]:
        """New commits on a pull request's branch: its head moves."""
        moved = [p for p in self.pull_requests.values() if p.repository_id == repo.id and p.head_branch == branch]
        for pull in moved:
            pull.head_sha = head
        return moved

    def _synchronized(self, repo: Repository, moved: list[PullRequest]) -> None:
        """GitHub sends ``pull_request`` ``synchronize`` after the push that moved a pull request's head."""
        installation = self.installation_for(repo) if moved else None
        if installation is not None:
            for pull in moved:
                self._emit(Event("pull_request", "synchronize", installation, (repo,), pull_request=pull))

    def suspend_installation(self, installation_id: int) -> None:
        with self._lock:
            installation = self._installation(installation_id)
            installation.suspended_at = time.time()
            self._save()
        self._emit(Event("installation", "suspend", installation))

    def unsuspend_installation(self, installation_id: int) -> None:
        with self._lock:
            installation = self._installation(installation_id)
            installation.suspended_at = None
            self._save()
        self._emit(Event("installation", "unsuspend", installation))

    def delete_installation(self, installation_id: int) -> None:
        """The App uninstalled: its tokens stop working and the account can install it again."""
        with self._lock:
            installation = self.installations.pop(int(installation_id), None)
            if installation is None:
                raise KeyError(f"no installation {installation_id}")
            self._save()
        self._emit(Event("installation", "deleted", installation))

    def accept_new_permissions(self, installation_id: int, permissions: dict[str, str]) -> None:
        """The account accepted the App's new permissions (``installation.new_permissions_accepted``)."""
        if any(level not in PERMISSION_LEVELS for level in permissions.values()):
            raise ValueError("unknown permission level")
        with self._lock:
            installation = self._installation(installation_id)
            installation.permissions = {**permissions, "metadata": permissions.get("metadata", "read")}
            self._save()
        self._emit(Event("installation", "new_permissions_accepted", installation))

    def add_repository_to_installation(self, full_name: str, installation_id: int) -> None:
        with self._lock:
            repo, installation = self._repo(full_name), self._installation(installation_id)
            if repo.owner.login.lower() != installation.account.login.lower():
                raise ValueError(f"{full_name} is not owned by {installation.account.login}")
            installation.repository_ids.add(repo.id)
            self._save()
        self._emit(Event("installation_repositories", "added", installation, (repo,)))

    def remove_repository_from_installation(self, full_name: str, installation_id: int) -> None:
        with self._lock:
            repo, installation = self._repo(full_name), self._installation(installation_id)
            installation.repository_ids.discard(repo.id)
            self._save()
        self._emit(Event("installation_repositories", "removed", installation, (repo,)))

    def add_check_run(self, **fields: Any) -> CheckRun:
        with self._lock:
            run = CheckRun(id=self._next_check_run_id, **fields)
            self._next_check_run_id += 1
            self.check_runs[run.id] = run
            return run

    def update_check_run(self, run: CheckRun, *, annotations: list[dict[str, Any]], **fields: Any) -> None:
        """Set ``fields`` and append ``annotations`` (GitHub keeps every annotation sent so far)."""
        with self._lock:
            run.annotations.extend(annotations)
            for name, value in fields.items():
                setattr(run, name, value)
            if run.status == "completed" and run.completed_at is None:
                run.completed_at = time.time()

    # -- people (the user-authorization flow) ----------------------------------------------------

    def add_user(
        self,
        login: str,
        *,
        member_of: tuple[str, ...] | list[str] = (),
        admin_of: tuple[str, ...] | list[str] = (),
    ) -> int:
        """A person with a GitHub account, a plain member of the organizations ``member_of`` and an admin
        (owner) of those ``admin_of``; returns their id."""
        account_id = self._account_under_lock(login, "User").id
        for organization in member_of:
            self.add_membership(organization, login)
        for organization in admin_of:
            self.add_membership(organization, login, role="admin")
        return account_id

    def add_membership(self, organization: str, login: str, *, role: str = "member", state: str = "active") -> None:
        """Sets ``login``'s membership of ``organization``: role ``admin`` (owner) or ``member``, state
        ``active`` or ``pending`` (invited, not yet accepted)."""
        self._account_under_lock(organization, "Organization")
        self.oauth.add_member(organization, login, role=role, state=state)

    def add_collaborator(self, full_name: str, login: str, *, permission: str = "read") -> None:
        """Makes ``login`` an outside collaborator on a repository, with this permission."""
        with self._lock:
            repo = self._repo(full_name)
        self.oauth.add_collaborator(login, repo.id, permission)

    def _account_under_lock(self, login: str, account_type: str) -> Account:
        with self._lock:
            return self._account(login, account_type)

    def configure_oauth(self, *, callback_url: str) -> None:
        """The App's registered callback URL (where the authorize step may send a person back)."""
        self.oauth_callback_url = callback_url

    def user_installations(self, login: str) -> list[Installation]:
        """The installations a person has explicit permission of any level on, as GitHub lists them: on
        their own account, on an organization they are an active member of (any role), or covering a
        repository they collaborate on (read-only included)."""
        with self._lock:
            installations = sorted(self.installations.values(), key=lambda i: i.id)
        collaborations = self.oauth.collaborations_of(login)
        return [
            i
            for i in installations
            if i.account.login.lower() == login.lower()
            or self.oauth.is_member(i.account.login, login)
            or any(repo.id in collaborations for repo in self.installation_repositories(i))
        ]

    def account(self, login: str) -> Account | None:
        return self._accounts.get(login.lower())

    # -- events (webhooks) ---------------------------------------------------------------------

    def configure_webhook(self, *, url: str, secret: str = "") -> None:
        """The App's webhook URL and secret (GitHub signs deliveries only when a secret is set)."""
        self.webhook_url, self.webhook_secret = url, secret

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event from now on (in the thread that caused it)."""
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _pushed(self, push: Push) -> None:
        installation = self.installation_for(push.repository)
        if installation is not None:  # an App hears of pushes only to repositories it is installed on
            self._emit(Event("push", None, installation, (push.repository,), push))

    def _repo_path(self, owner: str, name: str) -> Path:
        return self.repos_dir / owner.lower() / f"{name.lower()}.git"

    @staticmethod
    def _split(full_name: str) -> tuple[str, str]:
        owner, sep, name = full_name.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise ValueError(f"expected owner/name, got {full_name!r}")
        return owner, name

    @staticmethod
    def _clean_path(path: str) -> str:
        parts = path.strip("/").split("/")
        if not path.strip("/") or any(part in ("", ".", "..", ".git") for part in parts):
            raise ValueError(f"bad file path {path!r}")
        return "/".join(parts)

    def _repo(self, full_name: str) -> Repository:
        repo = self.repositories.get(full_name.lower())
        if repo is None:
            raise KeyError(f"no repository {full_name}")
        return repo

    def _installation(self, installation_id: int) -> Installation:
        installation = self.installations.get(int(installation_id))
        if installation is None:
            raise KeyError(f"no installation {installation_id}")
        return installation

    # -- coverage ------------------------------------------------------------------------------

    def installation_repositories(self, installation: Installation) -> list[Repository]:
        owner = installation.account.login.lower()
        with self._lock:
            repos = [r for r in self.repositories.values() if r.owner.login.lower() == owner]
        if installation.repository_selection == "selected":
            repos = [r for r in repos if r.id in installation.repository_ids]
        return sorted(repos, key=lambda r: r.id)

    def installation_for(self, repo: Repository) -> Installation | None:
        with self._lock:
            installations = list(self.installations.values())
        for installation in installations:
            if repo in self.installation_repositories(installation):
                return installation
        return None

    def token_repositories(self, token: InstallationToken) -> list[Repository]:
        installation = self.installations.get(token.installation_id)
        if installation is None:
            return []
        covered = self.installation_repositories(installation)
        if token.repository_ids is None:
            return covered
        return [r for r in covered if r.id in token.repository_ids]

    # -- installation tokens -------------------------------------------------------------------

    def _new_token_value(self) -> str:
        self._token_serial += 1
        alphabet = string.ascii_letters + string.digits
        if self._token_serial % 2:
            # Newer GitHub installation tokens are `ghs_<APPID>_<JWT>`: several hundred characters with `_`
            # and dots, inside GitHub's suggested pattern `ghs_[A-Za-z0-9._]{36,}`; never a fixed length.
            def part(data: bytes) -> str:
                return b64url(data).replace("-", "_")

            head = part(json.dumps({"typ": "JWT", "alg": "RS256"}).encode())
            body = part(secrets.token_bytes(285 + secrets.randbelow(40)))
            sig = part(secrets.token_bytes(64 + secrets.randbelow(200)))
            return f"ghs_{self.app_id}_{head}.{body}.{sig}"
        return "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))

    def mint_installation_token(
        self, installation: Installation, repository_ids: frozenset[int] | None, permissions: dict[str, str]
    ) -> tuple[str, InstallationToken]:
        with self._lock:
            value = self._new_token_value()
            record = InstallationToken(
                digest=_digest(value),
                installation_id=installation.id,
                repository_ids=repository_ids,
                permissions=permissions,
                expires_at=int(time.time()) + TOKEN_LIFETIME_SECONDS,
                repository_selection="selected" if repository_ids is not None else installation.repository_selection,
                issued_at=time.time(),
            )
            self._tokens[record.digest] = record
            self.tokens_issued.append(
                {
                    "installation_id": installation.id,
                    "repositories": [r.full_name for r in self.token_repositories(record)],
                    "permissions": dict(permissions),
                    "expires_at": iso(record.expires_at),
                }
            )
            self._save()
            return value, record

    def lookup_token(self, token: str) -> InstallationToken | None:
        """The live record for a token value: not revoked, not expired (GitHub answers 401 otherwise)."""
        record = self._tokens.get(_digest(token))
        if record is None or record.revoked or record.expires_at <= time.time():
            return None
        return record

    def token_readiness(self, record: InstallationToken) -> TokenReadiness:
        """Where a live token stands in GitHub's propagation: "unknown" (401), "permissions_pending" (403), "ready"."""
        age = time.time() - record.issued_at
        if age < self.token_propagation_seconds:
            return "unknown"
        if age < self.token_propagation_seconds + self.token_permissions_seconds:
            return "permissions_pending"
        return "ready"

    def token_ready_at(self, token: str) -> float:
        """When a token works everywhere (epoch seconds), for tests that wait as a patient client would."""
        record = self._tokens.get(_digest(token))
        if record is None:
            raise KeyError("unknown token")
        return record.issued_at + self.token_propagation_seconds + self.token_permissions_seconds

    def set_consistency(self, *, propagation_seconds: float, permissions_seconds: float = 0.0) -> None:
        """How long a fresh token answers 401, then 403 (the control API's way to set both)."""
        if propagation_seconds < 0 or permissions_seconds < 0:
            raise ValueError("consistency delays cannot be negative")
        with self._lock:
            self.token_propagation_seconds = float(propagation_seconds)
            self.token_permissions_seconds = float(permissions_seconds)

    def token_is_live(self, token: str) -> bool:
        return self.lookup_token(token) is not None

    def live_token_count(self) -> int:
        """How many installation tokens GitHub would still accept (for tests that hold no token value)."""
        with self._lock:
            now = time.time()
            return sum(1 for record in self._tokens.values() if not record.revoked and record.expires_at > now)

    def revoke_token(self, token: str) -> bool:
        with self._lock:
            record = self.lookup_token(token)
            if record is None:
                return False
            record.revoked = True
            self._save()
            return True

    def expire_token(self, token: str) -> None:
        """Make a token expired now (tests cannot wait an hour)."""
        with self._lock:
            record = self._tokens.get(_digest(token))
            if record is None:
                raise KeyError("unknown token")
            record.expires_at = int(time.time()) - 1
            self._save()

    # -- rate limits ---------------------------------------------------------------------------

    def rate_bucket(self, credential: str) -> RateBucket:
        with self._lock:
            now = int(time.time())
            bucket = self._rate.get(credential)
            if bucket is None or bucket.reset <= now:
                limit = ANONYMOUS_RATE_LIMIT if credential.startswith("ip:") else self.rate_limit
                bucket = RateBucket(limit=limit, used=0, reset=now + 3600)
                self._rate[credential] = bucket
            return bucket

    # -- faults --------------------------------------------------------------------------------

    def fault(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        kind: str = "status",
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if kind == "status" and status is None:
            raise ValueError("a 'status' fault needs a status")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.setdefault(endpoint, []).append(Fault(kind, status, retry_after, times))

    def take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def set_load(
        self,
        *,
        latency_ms: int | None = None,
        fail_one_in: int | None = None,
        fail_status: int | None = None,
        rate_limit: int | None = None,
    ) -> dict[str, int]:
        """GitHub as a load test needs it: each API call answered after `latency_ms` (GitHub's round
        trip), one call in `fail_one_in` (counted over every API call, 0: none) answered `fail_status`
        (500-504), and the rate limit of new credentials. Unnamed settings stay; returns them all."""
        for name, value in (("latency_ms", latency_ms), ("fail_one_in", fail_one_in), ("rate_limit", rate_limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a whole number of at least 0")
        if fail_status is not None and fail_status not in (500, 502, 503, 504):
            raise ValueError("fail_status must be one of 500, 502, 503, 504")
        if rate_limit == 0:
            raise ValueError("rate_limit must be at least 1")
        with self._lock:
            self.latency_ms = self.latency_ms if latency_ms is None else latency_ms
            self.fail_one_in = self.fail_one_in if fail_one_in is None else fail_one_in
            self.fail_status = self.fail_status if fail_status is None else fail_status
            self.rate_limit = self.rate_limit if rate_limit is None else rate_limit
            self._api_calls = 0
            return {
                "latency_ms": self.latency_ms,
                "fail_one_in": self.fail_one_in,
                "fail_status": self.fail_status,
                "rate_limit": self.rate_limit,
            }

    def take_load_failure(self) -> int | None:
        """The status this API call fails with under `set_load`'s one-in-K failures, or None."""
        with self._lock:
            if not self.fail_one_in:
                return None
            self._api_calls += 1
            return self.fail_status if self._api_calls % self.fail_one_in == 0 else None

    def hold(self) -> None:
        """Hold a connection for a timeout fault; returns early when the simulator stops."""
        self.wait(self.timeout_hold_seconds)

    def wait(self, seconds: float) -> None:
        """Pause an answer; returns early when the simulator stops."""
        self._stopping.wait(seconds)
