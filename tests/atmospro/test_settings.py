"""Settings refuse bad values at start, with a sentence naming the variable and never the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'atmospro.settings'); django.setup()"
# What refuses a bad value is the settings module itself: loading only it keeps these tests quick.
LOAD_SETTINGS = (
    "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'atmospro.settings'; "
    "from django.conf import settings; settings.DEBUG"
)
# Variables the settings read: a test starts from none of them, whatever the developer's shell has.
SETTINGS_VARIABLES = (
    "DEBUG",
    "DATABASE_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "GITHUB_API_URL",
    "GITHUB_HOST",
    "GITHUB_APP_ID",
    "GITHUB_CA_BUNDLE",
    "STS_OIDC_ISSUERS",
    "STS_OIDC_AUDIENCES",
    "SECRET_KEY",
    "GITHUB_APP_PRIVATE_KEY",
    "STS_SESSION_SIGNING_KEY",
    "STS_SESSION_PREVIOUS_KEYS",
    "GITHUB_WEBHOOK_SECRETS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "WEBHOOK_DELIVERY_RETENTION_DAYS",
    "GITHUB_WEB_URL",
    "GITHUB_APP_SLUG",
    "GITHUB_APP_CLIENT_ID",
    "GITHUB_APP_CLIENT_SECRET",
)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_body(pem: str) -> str:
    """A line from the middle of a PEM: what would show if the key leaked into an error."""
    return pem.splitlines()[3]


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {
        "rsa": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "rsa1024": _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "p256": _pem(ec.generate_private_key(ec.SECP256R1())),
        "p384": _pem(ec.generate_private_key(ec.SECP384R1())),
    }


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name.removesuffix("_FILE") not in SETTINGS_VARIABLES}
    env["VAR_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
def production_env(tmp_path: Path, keys: dict[str, str]) -> dict[str, str]:
    """A complete production configuration, every secret from a file."""
    secrets = {
        "SECRET_KEY": "k3y-" + "x7Qp2Lm9Rt4Vw8Zb1Nc6Hd3Jf5Gs0Ka" * 2,
        "GITHUB_APP_PRIVATE_KEY": keys["rsa"],
        "STS_SESSION_SIGNING_KEY": keys["p256"],
        "GITHUB_WEBHOOK_SECRETS": "whsec-" + "q8Lm2Rt7Vw4Zb9Nc" * 2,
    }
    env = _base_env(tmp_path)
    for name, value in secrets.items():
        path = tmp_path / name.lower()
        path.write_text(value)
        env[f"{name}_FILE"] = str(path)
    env.update(
        DEBUG="False",
        ALLOWED_HOSTS="sts.example.com",
        GITHUB_APP_ID="123456",
        GITHUB_API_URL="https://api.github.com",
        STS_OIDC_ISSUERS="https://token.actions.githubusercontent.com",
    )
    return env


def _start(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(args or ("-c", SETUP))]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def _refused(env: dict[str, str], message: str, *secrets: str) -> str:
    result = _start(env, "-c", LOAD_SETTINGS)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "ConfigError" in output
    assert message in output
    for secret in secrets:
        assert secret not in output
    return output


def test_it_starts_in_development_with_no_configuration(tmp_path: Path) -> None:
    result = _start(_base_env(tmp_path))
    assert result.returncode == 0, result.stderr


def test_a_deployment_that_forgot_debug_does_not_start_on_invented_secrets(tmp_path: Path) -> None:
    _refused({**_base_env(tmp_path), "ALLOWED_HOSTS": "sts.example.com"}, "set DEBUG=False for a deployment")


def test_a_development_server_on_the_network_says_debug_explicitly(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "ALLOWED_HOSTS": "dev.example.com", "DEBUG": "True"}
    result = _start(env, "-c", LOAD_SETTINGS)
    assert result.returncode == 0, result.stderr


def test_it_rejects_a_boolean_that_is_neither_true_nor_false(tmp_path: Path) -> None:
    _refused({**_base_env(tmp_path), "DEBUG": "maybe"}, "DEBUG must be True or False, not 'maybe'.")


@pytest.mark.parametrize("value", ["1", "yes", "on", "0", "no", "off", "ok", "y"])
def test_it_refuses_the_boolean_spellings_django_environ_would_take(tmp_path: Path, value: str) -> None:
    _refused(
        {**_base_env(tmp_path), "SECURE_SSL_REDIRECT": value},
        f"SECURE_SSL_REDIRECT must be True or False, not {value!r}.",
    )


@pytest.mark.parametrize(("value", "expected"), [("True", "True"), ("false", "False"), (" TRUE ", "True")])
def test_it_reads_true_and_false_in_any_case(tmp_path: Path, value: str, expected: str) -> None:
    script = LOAD_SETTINGS + "; print(settings.SECURE_SSL_REDIRECT)"
    result = _start({**_base_env(tmp_path), "SECURE_SSL_REDIRECT": value}, "-c", script)
    assert result.stdout.strip() == expected, result.stderr


@pytest.mark.parametrize("value", ["ten", "1_000", "\u0663", "12.5", "0x10"])
def test_it_refuses_an_integer_that_is_not_plain_digits(tmp_path: Path, value: str) -> None:
    _refused({**_base_env(tmp_path), "GITHUB_HTTP_TIMEOUT": value}, "GITHUB_HTTP_TIMEOUT must be a whole number")


@pytest.mark.parametrize("value", ["0", "61", "-5"])
def test_it_refuses_an_integer_outside_its_bounds(tmp_path: Path, value: str) -> None:
    _refused({**_base_env(tmp_path), "GITHUB_HTTP_TIMEOUT": value}, "GITHUB_HTTP_TIMEOUT must be between 1 and 60")


def test_it_refuses_a_list_with_no_value(tmp_path: Path) -> None:
    _refused({**_base_env(tmp_path), "STS_OIDC_AUDIENCES": " , ,"}, "STS_OIDC_AUDIENCES must list at least one value.")


def test_it_reads_a_list_without_its_blanks(tmp_path: Path) -> None:
    script = LOAD_SETTINGS + "; print('|'.join(settings.STS_OIDC_AUDIENCES))"
    result = _start({**_base_env(tmp_path), "STS_OIDC_AUDIENCES": " atmos-pro.com, ,sts.example "}, "-c", script)
    assert result.stdout.strip() == "atmos-pro.com|sts.example", result.stderr


def test_it_reads_any_setting_from_its_file(tmp_path: Path) -> None:
    timeout_file = tmp_path / "timeout"
    timeout_file.write_text("42\n")
    script = LOAD_SETTINGS + "; print(settings.GITHUB_HTTP_TIMEOUT)"
    result = _start({**_base_env(tmp_path), "GITHUB_HTTP_TIMEOUT_FILE": str(timeout_file)}, "-c", script)
    assert result.stdout.strip() == "42", result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STS_OIDC_ISSUERS", "http://evil.example"),
        ("GITHUB_API_URL", "http://10.0.0.1"),
        ("GITHUB_WEB_URL", "http://github.example"),
        ("STS_OIDC_ISSUERS", "https://token.actions.githubusercontent.com,http://evil.example"),
    ],
)
def test_it_refuses_plain_http_to_a_host_that_is_not_loopback(tmp_path: Path, name: str, value: str) -> None:
    _refused({**_base_env(tmp_path), name: value}, f"{name} must use https")


def test_it_allows_plain_http_to_the_loopback_simulator(tmp_path: Path) -> None:
    env = {
        **_base_env(tmp_path),
        "GITHUB_API_URL": "http://127.0.0.1:9000",
        "STS_OIDC_ISSUERS": "http://localhost:9000/oidc",
    }
    result = _start(env, "-c", LOAD_SETTINGS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "https://octocat:pw-s3cr3t-in-url@api.github.com",
        "ftp://octocat:pw-s3cr3t-in-url@api.github.com",
        "http://octocat:pw-s3cr3t-in-url@10.0.0.1",
    ],
)
def test_it_refuses_credentials_in_a_url_without_repeating_them(tmp_path: Path, value: str) -> None:
    env = {**_base_env(tmp_path), "GITHUB_API_URL": value}
    _refused(env, "GITHUB_API_URL must not carry credentials", "pw-s3cr3t-in-url")


def test_it_refuses_a_malformed_url_without_repeating_it(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "GITHUB_API_URL": "https://octocat:pw-s3cr3t-in-url@[::1"}
    _refused(env, "GITHUB_API_URL must be an http(s) URL with a host.", "pw-s3cr3t-in-url")


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "postgres://atmos:db-s3cr3t-password@db.internal:port/atmospro",
        "mysql//atmos:db-s3cr3t-password@db.internal/atmospro",
        "mysql://atmos:db-s3cr3t-password@db.internal/atmospro",
    ],
)
def test_it_refuses_a_database_url_it_cannot_use_without_repeating_it(tmp_path: Path, value: str) -> None:
    _refused(
        {**_base_env(tmp_path), "DATABASE_URL": value},
        "DATABASE_URL must be a postgres:// or sqlite:/// URL",
        "db-s3cr3t-password",
    )


@pytest.mark.parametrize(
    "value",
    ["memcache-but-not-a-scheme://cache", "redis://:cache-s3cr3t-password@[::1/0", "cache-s3cr3t-password"],
)
def test_it_refuses_a_cache_url_it_cannot_use_without_repeating_it(tmp_path: Path, value: str) -> None:
    _refused({**_base_env(tmp_path), "CACHE_URL": value}, "CACHE_URL must be a cache URL", "cache-s3cr3t-password")


def test_it_refuses_a_cache_key_function_that_could_drop_the_deployment_prefix(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "CACHE_URL": "redis://127.0.0.1:6379/15?key_function=builtins.str"}
    _refused(env, "CACHE_URL must not set key_function")


def test_it_refuses_a_database_cache_which_token_creating_threads_could_not_reach(tmp_path: Path) -> None:
    _refused({**_base_env(tmp_path), "CACHE_URL": "dbcache://sts_cache"}, "CACHE_URL must not be a database cache")


def test_it_refuses_a_session_key_that_is_not_a_pem(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "STS_SESSION_SIGNING_KEY": "not-a-pem-but-s3cr3t"}
    _refused(env, "STS_SESSION_SIGNING_KEY is not an unencrypted PEM private key.", "not-a-pem-but-s3cr3t")


def test_it_refuses_an_rsa_key_shorter_than_2048_bits(tmp_path: Path, keys: dict[str, str]) -> None:
    env = {**_base_env(tmp_path), "STS_SESSION_SIGNING_KEY": keys["rsa1024"]}
    _refused(env, "STS_SESSION_SIGNING_KEY must be an RSA key of at least 2048 bits.", _pem_body(keys["rsa1024"]))


def test_it_refuses_an_ec_key_on_a_curve_other_than_p256(tmp_path: Path, keys: dict[str, str]) -> None:
    env = {**_base_env(tmp_path), "STS_SESSION_SIGNING_KEY": keys["p384"]}
    _refused(env, "STS_SESSION_SIGNING_KEY must use the P-256 curve", _pem_body(keys["p384"]))


def test_it_refuses_a_github_app_key_that_is_not_rsa(tmp_path: Path, keys: dict[str, str]) -> None:
    env = {**_base_env(tmp_path), "GITHUB_APP_PRIVATE_KEY": keys["p256"]}
    _refused(env, "GITHUB_APP_PRIVATE_KEY must be a key of kind RSA.", _pem_body(keys["p256"]))


def test_it_refuses_a_secret_given_both_directly_and_as_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-s3cr3t-value")
    env = {**_base_env(tmp_path), "SECRET_KEY": "direct-s3cr3t-value", "SECRET_KEY_FILE": str(secret_file)}
    _refused(env, "Set SECRET_KEY or SECRET_KEY_FILE, not both.", "direct-s3cr3t-value", "file-s3cr3t-value")


def test_a_secret_that_starts_with_a_dollar_is_read_as_written(tmp_path: Path) -> None:
    """django-environ's Env would take "$NAME" for the name of another variable to read instead."""
    env = {**_base_env(tmp_path), "SECRET_KEY": "$HOME-is-not-a-reference", "EXPECTED": "$HOME-is-not-a-reference"}
    script = LOAD_SETTINGS + "; print(settings.SECRET_KEY == os.environ['EXPECTED'])"
    result = _start(env, "-c", script)
    assert result.stdout.strip() == "True", result.stderr


def test_it_refuses_a_secret_file_that_is_not_text_without_repeating_it(tmp_path: Path) -> None:
    secret_file = tmp_path / "binary"
    secret_file.write_bytes(b"\xff\xfebinary-s3cr3t")
    env = {**_base_env(tmp_path), "SECRET_KEY_FILE": str(secret_file)}
    _refused(env, f"SECRET_KEY_FILE names {str(secret_file)!r}, which is not UTF-8 text.", "binary-s3cr3t")


def test_it_refuses_a_secret_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    env = {**_base_env(tmp_path), "STS_SESSION_SIGNING_KEY_FILE": str(missing)}
    _refused(env, f"STS_SESSION_SIGNING_KEY_FILE names {str(missing)!r}, which cannot be read")


def test_it_reads_a_secret_from_its_file(tmp_path: Path, keys: dict[str, str]) -> None:
    key_file = tmp_path / "signing.pem"
    key_file.write_text(keys["p256"])
    env = {**_base_env(tmp_path), "STS_SESSION_SIGNING_KEY_FILE": str(key_file)}
    script = LOAD_SETTINGS + "; print(settings.STS_SESSION_SIGNING_KEY == open(os.environ['SIGNING_KEY_COPY']).read())"
    env["SIGNING_KEY_COPY"] = str(key_file)
    result = _start(env, "-c", script)
    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is False."),
        (
            "GITHUB_APP_PRIVATE_KEY",
            "GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) is required when DEBUG is False.",
        ),
        (
            "STS_SESSION_SIGNING_KEY",
            "STS_SESSION_SIGNING_KEY (or STS_SESSION_SIGNING_KEY_FILE) is required when DEBUG is False.",
        ),
        ("GITHUB_APP_ID", "GITHUB_APP_ID is required when DEBUG is False."),
        (
            "GITHUB_WEBHOOK_SECRETS",
            "GITHUB_WEBHOOK_SECRETS (or GITHUB_WEBHOOK_SECRETS_FILE) is required when DEBUG is False.",
        ),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS is required when DEBUG is False."),
    ],
)
def test_production_refuses_to_start_without_each_of_its_settings(
    production_env: dict[str, str], missing: str, message: str
) -> None:
    env = {name: value for name, value in production_env.items() if name not in (missing, f"{missing}_FILE")}
    _refused(env, message)


def test_production_reads_the_webhook_secrets_from_their_file(production_env: dict[str, str]) -> None:
    script = (
        LOAD_SETTINGS
        + "; print(settings.GITHUB_WEBHOOK_SECRETS == [open(os.environ['GITHUB_WEBHOOK_SECRETS_FILE']).read()])"
    )
    result = _start(production_env, "-c", script)
    assert result.stdout.strip() == "True", result.stderr


def test_production_does_not_invent_a_session_key(production_env: dict[str, str], tmp_path: Path) -> None:
    env = {name: value for name, value in production_env.items() if name != "STS_SESSION_SIGNING_KEY_FILE"}
    _refused(env, "STS_SESSION_SIGNING_KEY (or STS_SESSION_SIGNING_KEY_FILE) is required")
    assert not (tmp_path / "var" / "dev-session-signing-key.pem").exists()


def test_check_deploy_passes_with_a_complete_production_configuration(production_env: dict[str, str]) -> None:
    result = _start(production_env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_passes_behind_a_proxy_that_terminates_tls_and_redirects_itself(
    production_env: dict[str, str],
) -> None:
    env = {
        **production_env,
        "DATABASE_URL": "postgres://sts@db.internal:5432/sts",
        "CACHE_URL": "redis://cache.internal:6379/0",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "SECURE_SSL_REDIRECT": "False",
        "CSRF_TRUSTED_ORIGINS": "https://sts.example.com",
    }
    result = _start(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_nothing_redirects_plain_http(production_env: dict[str, str]) -> None:
    # Left to its default (on) the redirect is Django's; only an explicit False says a proxy does it.
    env = {**production_env, "SECURE_HSTS_SECONDS": "0"}
    result = _start(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_a_client_claiming_https_is_not_believed_without_a_configured_proxy_header(
    production_env: dict[str, str],
) -> None:
    script = LOAD_SETTINGS + "; print(settings.SECURE_PROXY_SSL_HEADER)"
    assert _start(production_env, "-c", script).stdout.strip() == "None"
    behind_proxy = {**production_env, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    assert _start(behind_proxy, "-c", script).stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.parametrize(
    "value",
    ["X-Forwarded-Proto: https", "HTTP_X_FORWARDED_PROTO", "X-Forwarded-Proto\nX-Evil", "-Proto", "X--Proto", "é"],
)
def test_it_refuses_a_proxy_header_that_is_not_a_header_name(production_env: dict[str, str], value: str) -> None:
    message = "SECURE_PROXY_SSL_HEADER must be an HTTP header name"
    _refused({**production_env, "SECURE_PROXY_SSL_HEADER": value}, message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "WEBHOOK_DELIVERY_RETENTION_DAYS must be between 4 and 3650, not 3."),
        ("-30", "WEBHOOK_DELIVERY_RETENTION_DAYS must be between 4 and 3650, not -30."),
        ("30d", "WEBHOOK_DELIVERY_RETENTION_DAYS must be a whole number, not '30d'."),
    ],
)
def test_webhook_deliveries_are_kept_past_githubs_three_days_of_redelivery(
    tmp_path: Path, value: str, message: str
) -> None:
    _refused({**_base_env(tmp_path), "WEBHOOK_DELIVERY_RETENTION_DAYS": value}, message)


def test_the_apps_oauth_client_secret_comes_from_its_file_and_the_web_host_defaults_to_github(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("cs-" + "p9Lq2Wm7Rt" * 4 + "\n")
    script = (
        LOAD_SETTINGS
        + "; print(settings.GITHUB_APP_CLIENT_SECRET == 'cs-' + 'p9Lq2Wm7Rt' * 4, settings.GITHUB_WEB_URL)"
    )
    result = _start({**_base_env(tmp_path), "GITHUB_APP_CLIENT_SECRET_FILE": str(secret_file)}, "-c", script)
    assert result.stdout.split() == ["True", "https://github.com"], result.stderr


def test_a_client_secret_given_twice_is_refused_without_repeating_it(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("cs-from-the-file-q8Lm2Rt7")
    env = {
        **_base_env(tmp_path),
        "GITHUB_APP_CLIENT_SECRET_FILE": str(secret_file),
        "GITHUB_APP_CLIENT_SECRET": "cs-in-the-env-q8Lm2Rt7",
    }
    _refused(
        env,
        "Set GITHUB_APP_CLIENT_SECRET or GITHUB_APP_CLIENT_SECRET_FILE, not both.",
        "cs-from-the-file",
        "cs-in-the-env",
    )
