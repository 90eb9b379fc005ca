"""Drive a simulator running in another process (``python -m githubsim``) through its control API.

Method names and signatures mirror :class:`githubsim.GitHubSimulator`, so a demo script seeds a running
simulator the same way a test seeds an in-process one.
"""

from __future__ import annotations

import base64
from typing import Any

import requests


class SimulatorError(RuntimeError):
    pass


class SimulatorClient:
    def __init__(self, api_url: str, *, timeout: float = 30) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False
        self._config: dict[str, Any] | None = None

    def _get(self, name: str) -> Any:
        response = self._session.get(f"{self.api_url}/_sim/{name}", timeout=self.timeout)
        return self._result(response)

    def _call(self, name: str, **kwargs: Any) -> Any:
        response = self._session.post(f"{self.api_url}/_sim/{name}", json=kwargs, timeout=self.timeout)
        return self._result(response)

    @staticmethod
    def _result(response: requests.Response) -> Any:
        body = response.json()
        if response.status_code != 200:
            raise SimulatorError(body.get("error", f"control API answered {response.status_code}"))
        return body["result"]

    # -- configuration ---------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = self._get("config")
        return self._config

    @property
    def issuer(self) -> str:
        return str(self.config["issuer"])

    @property
    def git_base_url(self) -> str:
        return str(self.config["git_base_url"])

    @property
    def git_host(self) -> str:
        return str(self.config["git_host"])

    @property
    def app_id(self) -> int:
        return int(self.config["app_id"])

    @property
    def ca_file(self) -> str:
        return str(self.config["ca_file"])

    @property
    def app_private_key_pem(self) -> str:
        return str(self._get("app_private_key_pem"))

    @property
    def oidc_private_key_pem(self) -> str:
        return str(self._get("oidc_private_key_pem"))

    @property
    def calls(self) -> dict[str, int]:
        return dict(self._get("calls"))

    @property
    def tokens_issued(self) -> list[dict[str, Any]]:
        return list(self._get("tokens_issued"))

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return list(self._get("webhook_deliveries"))

    # -- the in-process methods, over HTTP -----------------------------------------------------

    def reset(self) -> None:
        self._call("reset")

    def reset_calls(self) -> None:
        self._call("reset_calls")

    def add_installation(
        self,
        account: str,
        *,
        account_type: str = "Organization",
        repository_selection: str = "selected",
        permissions: dict[str, str] | None = None,
        suspended: bool = False,
    ) -> int:
        return int(
            self._call(
                "add_installation",
                account=account,
                account_type=account_type,
                repository_selection=repository_selection,
                permissions=permissions,
                suspended=suspended,
            )
        )

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
        return int(
            self._call(
                "add_repository",
                full_name=full_name,
                installation_id=installation_id,
                private=private,
                default_branch=default_branch,
                files=files,
                symlinks=symlinks,
            )
        )

    def put_file(self, full_name: str, path: str, content: str | bytes, *, branch: str = "") -> None:
        if isinstance(content, bytes):
            encoded = base64.b64encode(content).decode("ascii")
            self._call("put_file", full_name=full_name, path=path, content_base64=encoded, branch=branch)
        else:
            self._call("put_file", full_name=full_name, path=path, content=content, branch=branch)

    def open_pull_request(self, full_name: str, *, branch: str) -> int:
        return int(self._call("open_pull_request", full_name=full_name, branch=branch))

    def put_symlink(self, full_name: str, path: str, target: str) -> None:
        self._call("put_symlink", full_name=full_name, path=path, target=target)

    def rename_repository(self, full_name: str, new_name: str) -> None:
        self._call("rename_repository", full_name=full_name, new_name=new_name)

    def delete_file(self, full_name: str, path: str, *, branch: str = "") -> None:
        self._call("delete_file", full_name=full_name, path=path, branch=branch)

    def suspend_installation(self, installation_id: int) -> None:
        self._call("suspend_installation", installation_id=installation_id)

    def unsuspend_installation(self, installation_id: int) -> None:
        self._call("unsuspend_installation", installation_id=installation_id)

    def add_repository_to_installation(self, full_name: str, installation_id: int) -> None:
        self._call("add_repository_to_installation", full_name=full_name, installation_id=installation_id)

    def remove_repository_from_installation(self, full_name: str, installation_id: int) -> None:
        self._call("remove_repository_from_installation", full_name=full_name, installation_id=installation_id)

    def actions_token(
        self,
        *,
        audience: str = "atmos-pro.com",
        lifetime: int = 300,
        kid: str | None = None,
        issued_at: int | None = None,
        omit: tuple[str, ...] = (),
        header_overrides: dict[str, Any] | None = None,
        **claims: object,
    ) -> str:
        return str(
            self._call(
                "actions_token",
                audience=audience,
                lifetime=lifetime,
                kid=kid,
                issued_at=issued_at,
                omit=list(omit),
                header_overrides=header_overrides,
                claims=claims,
            )
        )

    def rotate_oidc_key(self, *, keep_previous: bool = True) -> str:
        return str(self._call("rotate_oidc_key", keep_previous=keep_previous))

    def fault(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        kind: str = "status",
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        self._call("fault", endpoint=endpoint, status=status, kind=kind, times=times, retry_after=retry_after)

    def set_load(
        self,
        *,
        latency_ms: int | None = None,
        fail_one_in: int | None = None,
        fail_status: int | None = None,
        rate_limit: int | None = None,
    ) -> dict[str, int]:
        return dict(
            self._call(
                "set_load",
                latency_ms=latency_ms,
                fail_one_in=fail_one_in,
                fail_status=fail_status,
                rate_limit=rate_limit,
            )
        )

    def token_is_live(self, token: str) -> bool:
        return bool(self._call("token_is_live", token=token))

    def expire_token(self, token: str) -> None:
        self._call("expire_token", token=token)

    def set_consistency(self, *, propagation_seconds: float, permissions_seconds: float = 0.0) -> None:
        self._call("set_consistency", propagation_seconds=propagation_seconds, permissions_seconds=permissions_seconds)

    def configure_webhook(self, *, url: str, secret: str = "") -> None:
        self._call("configure_webhook", url=url, secret=secret)

    def redeliver(self, guid: str) -> None:
        self._call("redeliver", guid=guid)

    def wait_for_deliveries(self) -> None:
        self._call("wait_for_deliveries")

    def delete_installation(self, installation_id: int) -> None:
        self._call("delete_installation", installation_id=installation_id)

    def accept_new_permissions(self, installation_id: int, permissions: dict[str, str]) -> None:
        self._call("accept_new_permissions", installation_id=installation_id, permissions=permissions)

    def add_user(
        self, login: str, *, member_of: list[str] | tuple[str, ...] = (), admin_of: list[str] | tuple[str, ...] = ()
    ) -> int:
        return int(self._call("add_user", login=login, member_of=list(member_of), admin_of=list(admin_of)))

    def add_membership(self, organization: str, login: str, *, role: str = "member", state: str = "active") -> None:
        self._call("add_membership", organization=organization, login=login, role=role, state=state)

    def add_collaborator(self, full_name: str, login: str, *, permission: str = "read") -> None:
        self._call("add_collaborator", full_name=full_name, login=login, permission=permission)

    def configure_oauth(self, *, callback_url: str) -> None:
        self._call("configure_oauth", callback_url=callback_url)
