"""Seeds the demo: the running GitHub simulator, then this server's database through its management commands.

``python -m demo.seed env``  prints the server's settings for the simulator as shell ``export`` lines;
``python -m demo.seed``      seeds (idempotent: the simulator is reset, the workspace is reused),
writes ``var/demo/demo.json`` for ``python -m demo.flow``, and prints a demo login to the admin for
each role of the demo workspace and for the operator's billing staff (new passwords on every run;
only while DEBUG is on).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from githubsim.client import SimulatorClient

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / "var" / "githubsim"
DEMO_FILE = ROOT / "var" / "demo" / "demo.json"

OWNER = "acme"
CALLER = f"{OWNER}/infrastructure"
SOURCE_WITH_POLICY = f"{OWNER}/terraform-modules"
SOURCE_WITHOUT_POLICY = f"{OWNER}/legacy-modules"
WORKSPACE_NAME = "Acme (demo)"
# For "Install on GitHub": a person of the simulator, member of an organization the App is not installed on yet.
GITHUB_PERSON = "octocat"
UNINSTALLED_ORGANIZATION = "globex"

POLICY = f"""\
# yaml-language-server: $schema=http://127.0.0.1:8000/schemas/v1alpha1/trust-policy.json
apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: default
spec:
  rules:
    - match:
        repository: "{CALLER}"
        ref: "refs/heads/*"
      permissions:
        contents: read
"""


def simulator_config() -> dict[str, Any]:
    return dict(json.loads((STATE_DIR / "config.json").read_text()))


def server_env(config: dict[str, Any]) -> dict[str, str]:
    """What points this server at the simulator instead of github.com."""
    return {
        "DEBUG": "True",
        "GITHUB_API_URL": config["api_url"],
        "STS_OIDC_ISSUERS": config["issuer"],
        "GITHUB_APP_ID": str(config["app_id"]),
        "GITHUB_APP_PRIVATE_KEY_FILE": config["app_private_key_file"],
        "GITHUB_HOST": config["git_host"],
        "GITHUB_CA_BUNDLE": config["ca_file"],
        "GITHUB_WEB_URL": config["web_url"],
        "GITHUB_APP_SLUG": config["app_slug"],
        "GITHUB_APP_CLIENT_ID": config["client_id"],
        "GITHUB_APP_CLIENT_SECRET_FILE": str(client_secret_file(config)),
    }


def client_secret_file(config: dict[str, Any]) -> Path:
    """The App's OAuth client secret in a file only its owner reads, so no shell line or process list shows
    it: beside the App's private key, in the state directory of the simulator that issued both."""
    secret_file = Path(config["app_private_key_file"]).with_name("client-secret")
    secret_file.touch(mode=0o600, exist_ok=True)
    secret_file.chmod(0o600)
    secret_file.write_text(str(config["client_secret"]))
    return secret_file


def manage(*args: str) -> str:
    """Runs ``manage.py`` as an operator would; its output is shown, its last line returned."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(result.stderr)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed (exit {result.returncode}).")
    return result.stdout.strip().splitlines()[-1]


def seed_simulator(client: SimulatorClient) -> int:
    client.reset()
    installation_id = client.add_installation(OWNER, repository_selection="selected")
    client.add_repository(
        SOURCE_WITH_POLICY,
        installation_id=installation_id,
        files={".atmos/pro/sts/default.yaml": POLICY, "modules/vpc/main.tf": 'variable "cidr" {}\n'},
    )
    client.add_repository(SOURCE_WITHOUT_POLICY, installation_id=installation_id, files={"main.tf": "# no policy\n"})
    client.add_repository(CALLER, installation_id=installation_id, files={"atmos.yaml": "base_path: .\n"})
    client.add_repository(f"{UNINSTALLED_ORGANIZATION}/platform", files={"main.tf": "# not installed yet\n"})
    client.add_user(GITHUB_PERSON, admin_of=[OWNER, UNINSTALLED_ORGANIZATION])
    return installation_id


def demo_workspace_id() -> str:
    """The workspace of an earlier seed when the database still has it; a new one otherwise."""
    if DEMO_FILE.exists():
        previous = json.loads(DEMO_FILE.read_text()).get("workspace_id", "")
        if previous and _workspace_exists(previous):
            print(f"Reusing demo workspace {previous}.")
            return str(previous)
    return manage("create_workspace", WORKSPACE_NAME, "--plan", "pro")


def _workspace_exists(public_id: str) -> bool:
    from workspaces.selectors import workspace_by_public_id

    return workspace_by_public_id(public_id) is not None


def forget_stale_installations(workspace_id: str, current_github_id: int) -> None:
    """A restarted simulator may number its installation differently: drop what it no longer has."""
    from workspaces.models import GitHubInstallation

    GitHubInstallation.objects.filter(workspace__public_id=workspace_id).exclude(github_id=current_github_id).delete()
    GitHubInstallation.objects.filter(github_id=current_github_id).exclude(workspace__public_id=workspace_id).delete()


DEMO_LOGINS = (
    ("demo-admin", "admin", "manages members, switches STS and write tokens, unlinks installations"),
    ("demo-security", "security", "reads the audit log, sessions and minted tokens; changes nothing"),
    ("demo-billing", "billing", "sees the plan and the mints per month"),
    ("demo-member", "member", "sees the workspace, its installations and opted-in repositories"),
    ("demo-billing-staff", "billing-admins", "the operator's billing staff: edits plans, moves workspaces"),
)


def demo_logins_create(workspace_id: str) -> list[tuple[str, str, str, str]]:
    """One login per role of the demo workspace, and one of the operator's billing staff, each with a new
    password. Development only: with DEBUG off it creates nothing, so no known account reaches production."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User

    from workspaces.models import Membership
    from workspaces.selectors import workspace_by_public_id
    from workspaces.services import BILLING_STAFF_GROUP

    if not settings.DEBUG:
        raise SystemExit("Demo logins are for development only (DEBUG is off): none created.")
    workspace = workspace_by_public_id(workspace_id)
    assert workspace is not None
    created = []
    for username, role, what in DEMO_LOGINS:
        password = secrets.token_urlsafe(12)
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        user.save()
        if role == BILLING_STAFF_GROUP:
            user.groups.add(Group.objects.get_or_create(name=BILLING_STAFF_GROUP)[0])
        else:
            Membership.objects.update_or_create(user=user, workspace=workspace, defaults={"role": role})
        created.append((username, password, role, what))
    return created


def print_demo_logins(logins: list[tuple[str, str, str, str]], base_url: str) -> None:
    print(f"\nDemo logins for the admin at {base_url}/admin/ (development only; new passwords on every run):")
    for username, password, role, what in logins:
        print(f"    {username:<20} {password:<18} {role:<15} {what}")
    print(
        f"\"Install on GitHub\" (demo-admin, on the workspace's page) opens the simulator's GitHub: sign in as "
        f"{GITHUB_PERSON} and install on {UNINSTALLED_ORGANIZATION}."
    )


def main(argv: list[str]) -> int:
    config = simulator_config()
    if argv[:1] == ["env"]:
        for name, value in server_env(config).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmospro.settings")
    django.setup()
    client = SimulatorClient(config["api_url"])
    installation_id = seed_simulator(client)
    workspace_id = demo_workspace_id()
    forget_stale_installations(workspace_id, installation_id)
    manage("link_installation", "--workspace", workspace_id, str(installation_id))
    base_url = os.environ.get("DEMO_BASE_URL", "http://127.0.0.1:8000")
    client.configure_oauth(callback_url=f"{base_url}/github/setup")
    print_demo_logins(demo_logins_create(workspace_id), base_url)
    DEMO_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_FILE.write_text(
        json.dumps(
            {
                "base_url": base_url,
                "workspace_id": workspace_id,
                "simulator_api_url": config["api_url"],
                "git_base_url": config["git_base_url"],
                "ca_file": config["ca_file"],
                "caller_repository": CALLER,
                "source_with_policy": SOURCE_WITH_POLICY,
                "source_without_policy": SOURCE_WITHOUT_POLICY,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
