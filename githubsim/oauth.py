"""What the user-authorization web flow remembers: users, organization memberships (role ``admin`` — an
owner — or ``member``, state ``active`` or ``pending``), repositories a person collaborates on, one-use
codes and user access tokens (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app).

Codes are single use and expire after 10 minutes; a user token (``ghu_``) lasts 8 hours and is stored
as a digest only, like installation tokens. A browser session (``user_session`` cookie) says who is signed
in on the web host's pages. ``user_tokens_issued`` is a test extra, like ``tokens_issued``: tests search
for these values where they must never appear.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

CODE_LIFETIME_SECONDS = 600
USER_TOKEN_LIFETIME_SECONDS = 8 * 3600
REFRESH_TOKEN_LIFETIME_SECONDS = 15897600


@dataclass(frozen=True)
class Grant:
    login: str
    redirect_uri: str
    expires_at: float


@dataclass(frozen=True)
class Membership:
    """https://docs.github.com/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user"""

    role: str  # "admin" (an owner) or "member"
    state: str  # "active", or "pending" until the person accepts the invitation


ROLES = frozenset({"admin", "member"})
MEMBERSHIP_STATES = frozenset({"active", "pending"})
COLLABORATOR_PERMISSIONS = frozenset({"read", "triage", "write", "maintain", "admin"})


@dataclass(frozen=True)
class UserToken:
    login: str
    expires_at: float


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OAuthState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.code_lifetime_seconds: float = CODE_LIFETIME_SECONDS
        self._members: dict[str, dict[str, Membership]] = {}  # lower-case organization -> lower-case login -> …
        self._collaborations: dict[str, dict[int, str]] = {}  # lower-case login -> repository id -> permission
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, UserToken] = {}
        self._sessions: dict[str, str] = {}  # browser session id -> login
        self.user_tokens_issued: list[str] = []

    def forget(self) -> None:
        with self._lock:
            self.code_lifetime_seconds = CODE_LIFETIME_SECONDS
            self._members.clear()
            self._collaborations.clear()
            self._codes.clear()
            self._tokens.clear()
            self._sessions.clear()
            self.user_tokens_issued.clear()

    def add_member(self, organization: str, login: str, *, role: str = "member", state: str = "active") -> None:
        """Makes ``login`` a member of ``organization`` with this role and state (replacing any before)."""
        if role not in ROLES or state not in MEMBERSHIP_STATES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, state one of {sorted(MEMBERSHIP_STATES)}")
        with self._lock:
            self._members.setdefault(organization.lower(), {})[login.lower()] = Membership(role, state)

    def membership(self, organization: str, login: str) -> Membership | None:
        with self._lock:
            return self._members.get(organization.lower(), {}).get(login.lower())

    def is_member(self, organization: str, login: str) -> bool:
        """An active member, of any role (a pending invitation is not membership yet)."""
        membership = self.membership(organization, login)
        return membership is not None and membership.state == "active"

    def organizations_of(self, login: str, *, role: str | None = None) -> list[str]:
        """The organizations ``login`` is an active member of (with ``role``, when given)."""
        with self._lock:
            return sorted(
                org
                for org, members in self._members.items()
                if (held := members.get(login.lower())) is not None
                and held.state == "active"
                and (role is None or held.role == role)
            )

    def add_collaborator(self, login: str, repository_id: int, permission: str) -> None:
        if permission not in COLLABORATOR_PERMISSIONS:
            raise ValueError(f"permission must be one of {sorted(COLLABORATOR_PERMISSIONS)}")
        with self._lock:
            self._collaborations.setdefault(login.lower(), {})[repository_id] = permission

    def collaborations_of(self, login: str) -> dict[int, str]:
        with self._lock:
            return dict(self._collaborations.get(login.lower(), {}))

    def sign_in(self, login: str) -> str:
        """A new browser session for ``login``: the value of its ``user_session`` cookie."""
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = login
        return session

    def signed_in(self, session: str) -> str | None:
        with self._lock:
            return self._sessions.get(session)

    def new_code(self, *, login: str, redirect_uri: str) -> str:
        code = secrets.token_hex(10)  # GitHub's codes are 20 hex characters
        with self._lock:
            self._codes[code] = Grant(login, redirect_uri, time.time() + self.code_lifetime_seconds)
        return code

    def redeem(self, code: str) -> Grant | None:
        """The grant of a code, once: a second redemption, or one after it expired, finds nothing."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= time.time():
            return None
        return grant

    def new_user_token(self, login: str) -> tuple[str, str]:
        """(access token, refresh token) for ``login``."""
        token = "ghu_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36]
        with self._lock:
            self._tokens[_digest(token)] = UserToken(login, time.time() + USER_TOKEN_LIFETIME_SECONDS)
            self.user_tokens_issued.append(token)
        return token, "ghr_" + secrets.token_hex(38)

    def user_of(self, token: str) -> str | None:
        with self._lock:
            record = self._tokens.get(_digest(token))
        if record is None or record.expires_at <= time.time():
            return None
        return record.login
