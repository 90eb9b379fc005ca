"""Strict readers for configuration from the environment, on django-environ's ``FileAwareEnv``.

django-environ reads every variable, and ``<NAME>_FILE`` (a path) in its place; it parses database
and cache URLs. What this layer adds is refusal: a value that does not parse stops the start with a
sentence naming the variable, nothing is guessed, and a secret or a password is never repeated.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from environ.fileaware_mapping import FileAwareMapping

from github_app.http import is_loopback_host

# django-environ's own boolean takes "1", "yes", "on", "ok", "y" and reads anything else as False:
# a typo in DEBUG would quietly mean production, or the reverse.
_BOOLEANS = {"true": True, "false": False}
DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
KEPT_CLIENT_REDIS_CACHE = "atmospro.redis_cache.RedisCache"
_CACHE_OPTIONS = set(environ.Env._CACHE_BASE_OPTIONS)  # the top-level keys of a CACHES entry it reads from a URL
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")
# The audit log's immutability triggers exist for these two (audit/migrations/0002).
_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


class ConfigError(ImproperlyConfigured):
    """A configuration value is missing or malformed."""


class Environment:
    """Reads typed values from a mapping (``os.environ`` unless a test gives another)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source: Mapping[str, str] = os.environ if source is None else source
        self._env = environ.FileAwareEnv()
        # A mapping of this reader's own (FileAwareEnv's is one per class, over os.environ), and no
        # memory of files read: a rotated secret file is read afresh by the next reader.
        self._env.ENVIRON = FileAwareMapping(env=self.source, cache=False)

    def raw(self, name: str) -> str | None:
        """The value of ``NAME``, or the contents of the file ``NAME_FILE`` names; never both.

        Read through FileAwareEnv's mapping, not ``Env.get_value``: that one takes a value starting
        with ``$`` for the name of another variable, so a secret starting with ``$`` would be
        replaced by a lookup, and its error message would repeat the secret.
        """
        path = self.source.get(f"{name}_FILE") or None
        if path is not None and _present(self.source.get(name)) is not None:
            raise ConfigError(f"Set {name} or {name}_FILE, not both.")
        try:
            value = self._env.ENVIRON[name]
        except KeyError:
            return None
        except UnicodeDecodeError:
            raise ConfigError(f"{name}_FILE names {path!r}, which is not UTF-8 text.") from None
        except OSError as error:
            raise ConfigError(f"{name}_FILE names {path!r}, which cannot be read: {error.strerror}.") from None
        return _present(value)

    def string(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in _BOOLEANS:
            raise ConfigError(f"{name} must be True or False, not {value!r}.")
        return _BOOLEANS[value.lower()]

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        # Digits only: int() also takes "1_000" and the digits of other scripts.
        if not _WHOLE_NUMBER.fullmatch(value):
            raise ConfigError(f"{name} must be a whole number, not {value!r}.")
        number = int(value)
        if not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {number}.")
        return number

    def strings(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in self._env.parse_value(value, list) if item.strip()]
        if not items:
            raise ConfigError(f"{name} must list at least one value.")
        return items

    def secret(self, name: str) -> str | None:
        """``NAME`` or the contents of ``NAME_FILE``; a PEM keeps its final newline. Errors never echo it."""
        value = self.raw(name)
        if value is None:
            return None
        return value + "\n" if "-----BEGIN" in value else value

    def secrets(self, name: str) -> list[str]:
        value = self.secret(name)
        return [] if value is None else [item.strip() for item in value.split(",") if item.strip()]

    def database_url(self, name: str, default: str) -> dict[str, Any]:
        """Django's DATABASES entry from a PostgreSQL or SQLite URL. The error never repeats the URL,
        which may hold a password."""
        with warnings.catch_warnings():
            # django-environ warns about an unknown scheme by printing the parsed URL, password included.
            warnings.simplefilter("ignore")
            try:
                config: dict[str, Any] = self._env.db_url_config(self.string(name, default))
            except Exception:  # django-environ raises several kinds for one cause: a bad URL
                config = {}
        if config.get("ENGINE") not in _DATABASE_ENGINES:
            raise ConfigError(f"{name} must be a postgres:// or sqlite:/// URL, e.g. postgres://user@host:5432/name.")
        return config

    def cache_url(self, name: str, default: str) -> dict[str, Any]:
        """Django's CACHES entry from a cache URL (``redis://``, ``filecache://``, ...). The error never
        repeats the URL, which may hold a password."""
        try:
            config: dict[str, Any] = self._env.cache_url_config(self.string(name, default))
        except Exception:  # an unknown scheme, a malformed address: one cause, a bad URL
            config = {}
        if not config.get("BACKEND"):
            raise ConfigError(f"{name} must be a cache URL such as redis://host:6379/0 or filecache:///path.")
        # For Django's own Redis backend django-environ spells the query's KEY_PREFIX, TIMEOUT, ... in
        # lower case, where Django reads only upper case: ?key_prefix=staging would be dropped unseen.
        for option in [key for key in config if key.upper() in _CACHE_OPTIONS and key != key.upper()]:
            config[option.upper()] = config.pop(option)
        if config["BACKEND"].endswith("DatabaseCache"):
            # The GitHub client reads and writes the cache from the threads that create a mint's tokens,
            # which never touch the database (sts.token_batches): a cache in the database would fail there.
            raise ConfigError(f"{name} must not be a database cache: use Redis (or a file cache on one machine).")
        if config["BACKEND"] == DJANGO_REDIS_CACHE:
            config["BACKEND"] = KEPT_CLIENT_REDIS_CACHE  # Django's, without a new client per call
        if "KEY_FUNCTION" in config:
            # Every key must carry the deployment's prefix; a key function of the URL's could drop it.
            raise ConfigError(f"{name} must not set key_function: keys are namespaced by deployment.")
        return config

    def proxy_ssl_header(self, name: str) -> tuple[str, str] | None:
        """Django's ``SECURE_PROXY_SSL_HEADER`` from a header name (``X-Forwarded-Proto``) whose value
        ``https`` means the client spoke HTTPS to the proxy; None when unset."""
        value = self.raw(name)
        if value is None:
            return None
        if not _HEADER_NAME.fullmatch(value):
            raise ConfigError(f"{name} must be an HTTP header name such as X-Forwarded-Proto, not {value!r}.")
        return "HTTP_" + value.upper().replace("-", "_"), "https"

    def choice(self, name: str, default: str, *, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
        return value

    def networks(self, name: str) -> list[str]:
        """CIDRs (``10.0.0.0/8``, ``::1/128``), comma-separated; none when unset. A host address with a
        prefix (``10.0.0.1/8``) is refused: it is a typo for either the host or the network."""
        values = self.strings(name, [])
        for value in values:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise ConfigError(f"{name} must list networks such as 10.0.0.0/8, not {value!r}.") from None
        return values

    def url(self, name: str, default: str) -> str:
        return checked_url(name, self.string(name, default))

    def urls(self, name: str, default: list[str]) -> list[str]:
        return [checked_url(name, value) for value in self.strings(name, default)]


def _present(value: str | None) -> str | None:
    """A value with its surrounding blanks removed; a blank one counts as unset."""
    return None if value is None or value.strip() == "" else value.strip()


def deployment_cache_prefix(*, github_api_url: str, github_app_id: str) -> str:
    """The cache key prefix of one deployment: the GitHub it talks to (API URL) and the App it is.

    A digest of both, so a key stays short and of characters every cache backend accepts (memcached
    refuses blanks, and keys over 250 characters) whatever the URL holds. The host is compared without
    case, as DNS does.
    """
    parts = urlsplit(github_api_url)
    identity = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}\n{github_app_id.strip()}"
    return "sts-" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def checked_url(name: str, value: str) -> str:
    """An ``https`` URL, or ``http`` to a loopback host (the GitHub simulator), whatever DEBUG says."""
    try:
        parts = urlsplit(value)
    except ValueError:  # a malformed IPv6 address; the value may hold credentials, so it is not repeated
        raise ConfigError(f"{name} must be an http(s) URL with a host.") from None
    # Credentials first: the sentences below repeat the value, which must then hold no password.
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{name} must not carry credentials, a query or a fragment.")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL with a host, not {value!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"{name} must use https (plain http is only for a loopback simulator), not {value!r}.")
    return value.rstrip("/")
