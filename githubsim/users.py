"""API endpoints for a person's user access token (``ghu_``): who they are
(https://docs.github.com/rest/users/users#get-the-authenticated-user), which installations of the App
they have explicit permission of any level on
(https://docs.github.com/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token),
and their membership of an organization: role ``admin`` or ``member``, state ``active`` or ``pending``,
404 when they are not a member
(https://docs.github.com/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user)."""

from __future__ import annotations

import re

from githubsim.api_base import ApiHandlerBase, Route, page_of
from githubsim.server_base import Abort, Reply, error, not_found
from githubsim.shapes import installation_json

DOC_USER_INSTALLATIONS = (
    "https://docs.github.com/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token"
)
DOC_MEMBERSHIP = "https://docs.github.com/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user"
USER_ROUTES: list[Route] = [
    ("GET", re.compile(r"^/user/installations$"), "user_installations"),
    ("GET", re.compile(r"^/user$"), "user"),
    ("GET", re.compile(r"^/user/memberships/orgs/(?P<org>[^/]+)$"), "user_membership"),
]


class UserEndpoints(ApiHandlerBase):
    def ep_user_installations(self) -> Reply:
        login = self._require_user()
        installations = self.sim.user_installations(login)
        chunk, headers = page_of(installations, self.query, base=f"{self.sim.api_url}/user/installations")
        listed = [installation_json(self.sim, installation) for installation in chunk]
        return Reply(200, {"total_count": len(installations), "installations": listed}, headers)

    def ep_user(self) -> Reply:
        login = self._require_user()
        account = self.sim.account(login)
        if account is None:
            raise Abort(error(401, "Bad credentials"))
        return Reply(200, account.as_json(self.sim.api_url))

    def ep_user_membership(self, org: str) -> Reply:
        login = self._require_user()
        membership = self.sim.oauth.membership(org, login)
        organization, user = self.sim.account(org), self.sim.account(login)
        if membership is None or organization is None or organization.type != "Organization" or user is None:
            raise Abort(not_found(DOC_MEMBERSHIP))
        api = self.sim.api_url
        return Reply(
            200,
            {
                "url": f"{api}/orgs/{organization.login}/memberships/{user.login}",
                "state": membership.state,
                "role": membership.role,
                "organization_url": f"{api}/orgs/{organization.login}",
                "organization": {
                    "login": organization.login,
                    "id": organization.id,
                    "node_id": organization.as_json(api)["node_id"],
                    "url": f"{api}/orgs/{organization.login}",
                    "description": "",
                },
                "user": user.as_json(api),
            },
        )

    def _require_user(self) -> str:
        raw = self._bearer()
        if raw is None:
            raise Abort(error(401, "Requires authentication", DOC_USER_INSTALLATIONS))
        if raw.startswith("ghs_"):
            # An installation token is not a person: GitHub answers as for any integration.
            raise Abort(error(403, "Resource not accessible by integration", DOC_USER_INSTALLATIONS))
        login = self.sim.oauth.user_of(raw) if raw.startswith("ghu_") else None
        if login is None:
            raise Abort(error(401, "Bad credentials"))
        self._charge(f"user:{login.lower()}")
        return login
