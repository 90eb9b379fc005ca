"""Strict readers for configuration from the environment.

A value that does not parse stops the start with a sentence naming the variable; nothing is
guessed. Every secret may also come from ``<NAME>_FILE`` (a path), never from both.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from github_app.http import is_loopback_host

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
# The audit log's immutability triggers exist for these two (audit/migrations/0002).
_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


class ConfigError(ImproperlyConfigured):
    """A configuration value is missing or malformed."""


class Environment:
    """Reads typed values from a mapping (``os.environ`` unless a test gives another)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source = os.environ if source is None else source

    def raw(self, name: str) -> str | None:
        value = self.source.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def string(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be True or False, not {value!r}.")

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}.") from None
        if not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {number}.")
        return number

    def strings(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise ConfigError(f"{name} must list at least one value.")
        return items

    def secret(self, name: str) -> str | None:
        """``NAME`` or the contents of the file named by ``NAME_FILE``; never echoes the value."""
        value = self.source.get(name)
        path = self.raw(f"{name}_FILE")
        if value and path:
            raise ConfigError(f"Set {name} or {name}_FILE, not both.")
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigError(f"{name}_FILE names {path!r}, which cannot be read: {error.strerror}.") from None
        if value is None or value.strip() == "":
            return None
        return value.strip() if "-----BEGIN" not in value else value.strip() + "\n"

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
                config: dict[str, Any] = environ.Env.db_url_config(self.string(name, default))
            except Exception:  # django-environ raises several kinds for one cause: a bad URL
                config = {}
        if config.get("ENGINE") not in _DATABASE_ENGINES:
            raise ConfigError(f"{name} must be a postgres:// or sqlite:/// URL, e.g. postgres://user@host:5432/name.")
        return config

    def url(self, name: str, default: str) -> str:
        return checked_url(name, self.string(name, default))

    def urls(self, name: str, default: list[str]) -> list[str]:
        return [checked_url(name, value) for value in self.strings(name, default)]


def checked_url(name: str, value: str) -> str:
    """An ``https`` URL, or ``http`` to a loopback host (the GitHub simulator), whatever DEBUG says."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL with a host, not {value!r}.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{name} must not carry credentials, a query or a fragment.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"{name} must use https (plain http is only for a loopback simulator), not {value!r}.")
    return value.rstrip("/")
