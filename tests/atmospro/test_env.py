"""The strict layer on django-environ, read in this process from a mapping of the test's own.

test_settings starts real processes for what the settings module does with these values; here each
hostile spelling is tried on the reader directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from atmospro.env import ConfigError, Environment


def test_a_variable_given_directly_and_as_a_file_is_refused_whatever_it_is(tmp_path: Path) -> None:
    timeout_file = tmp_path / "timeout"
    timeout_file.write_text("20")
    reader = Environment({"GITHUB_HTTP_TIMEOUT": "10", "GITHUB_HTTP_TIMEOUT_FILE": str(timeout_file)})
    with pytest.raises(ConfigError, match=r"^Set GITHUB_HTTP_TIMEOUT or GITHUB_HTTP_TIMEOUT_FILE, not both\.$"):
        reader.integer("GITHUB_HTTP_TIMEOUT", 10, minimum=1, maximum=60)


def test_a_blank_value_beside_its_file_reads_the_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("  from-the-file \n")
    assert Environment({"SECRET_KEY": " ", "SECRET_KEY_FILE": str(secret_file)}).secret("SECRET_KEY") == "from-the-file"


def test_a_file_that_is_a_directory_is_refused_with_its_path(tmp_path: Path) -> None:
    reader = Environment({"SECRET_KEY_FILE": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"SECRET_KEY_FILE names .*, which cannot be read: Is a directory\.$"):
        reader.secret("SECRET_KEY")


def test_a_secret_file_is_read_afresh_by_each_reader(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    source = {"SECRET_KEY_FILE": str(secret_file)}
    secret_file.write_text("before-rotation")
    assert Environment(source).secret("SECRET_KEY") == "before-rotation"
    secret_file.write_text("after-rotation")
    assert Environment(source).secret("SECRET_KEY") == "after-rotation"


def test_a_pem_keeps_exactly_one_final_newline() -> None:
    pem = "\n-----BEGIN PRIVATE KEY-----\nbody\n-----END PRIVATE KEY-----\n\n\n"
    assert Environment({"KEY": pem}).secret("KEY") == "-----BEGIN PRIVATE KEY-----\nbody\n-----END PRIVATE KEY-----\n"


def test_a_value_starting_with_a_dollar_is_not_a_reference_to_another_variable() -> None:
    reader = Environment({"SECRET_KEY": "$OTHER", "OTHER": "not-this", "LOG_LEVEL": "$OTHER"})
    assert (reader.secret("SECRET_KEY"), reader.string("LOG_LEVEL", "INFO")) == ("$OTHER", "$OTHER")


def test_secrets_are_a_comma_separated_list_without_blanks() -> None:
    assert Environment({"KEYS": " one, ,two ,"}).secrets("KEYS") == ["one", "two"]
    assert Environment({}).secrets("KEYS") == []


@pytest.mark.parametrize("value", ["1", "yes", "on", "0", "no", "off", "Truee", "t"])
def test_a_boolean_is_true_or_false_and_nothing_else(value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^DEBUG must be True or False, not '{value}'\.$"):
        Environment({"DEBUG": value}).boolean("DEBUG", True)


@pytest.mark.parametrize(("value", "expected"), [("True", True), ("FALSE", False), ("  true ", True), ("", False)])
def test_true_and_false_are_read_in_any_case_and_blank_is_the_default(value: str, expected: bool) -> None:
    assert Environment({"DEBUG": value}).boolean("DEBUG", False) is expected


@pytest.mark.parametrize("value", ["+5", "-0", "007"])
def test_an_integer_may_carry_a_sign_and_leading_zeros(value: str) -> None:
    assert Environment({"N": value}).integer("N", 1, minimum=-10, maximum=10) == int(value)


def test_a_redis_cache_url_keeps_the_options_django_reads_in_upper_case() -> None:
    config = Environment({"CACHE_URL": "redis://127.0.0.1:6379/15?key_prefix=blue&timeout=30&version=2"}).cache_url(
        "CACHE_URL", "locmemcache://"
    )
    assert (config["KEY_PREFIX"], config["TIMEOUT"], config["VERSION"]) == ("blue", 30, 2)
    assert not {"key_prefix", "timeout", "version"} & set(config)


def test_a_cache_key_function_is_refused_in_any_case() -> None:
    reader = Environment({"CACHE_URL": "filecache:///tmp/cache?KEY_FUNCTION=builtins.str"})
    with pytest.raises(ConfigError, match="must not set key_function"):
        reader.cache_url("CACHE_URL", "locmemcache://")


def test_the_database_url_may_come_from_a_file_and_its_password_is_never_repeated(tmp_path: Path) -> None:
    url_file = tmp_path / "database-url"
    url_file.write_text("mysql://atmos:db-s3cr3t-password@db.internal/atmospro\n")
    with pytest.raises(ConfigError) as refused:
        Environment({"DATABASE_URL_FILE": str(url_file)}).database_url("DATABASE_URL", "sqlite:///x")
    assert "db-s3cr3t-password" not in str(refused.value)
    url_file.write_text("postgres://atmos:db-s3cr3t-password@db.internal:5432/atmospro\n")
    config = Environment({"DATABASE_URL_FILE": str(url_file)}).database_url("DATABASE_URL", "sqlite:///x")
    assert (config["HOST"], config["NAME"], config["PASSWORD"]) == ("db.internal", "atmospro", "db-s3cr3t-password")
