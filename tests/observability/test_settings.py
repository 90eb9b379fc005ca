"""The observability settings refuse a bad value at start, naming the variable, never the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOAD_SETTINGS = (
    "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'atmospro.settings'; from django.conf import settings"
)
OURS = ("METRICS_TOKEN", "METRICS_ALLOWED_NETWORKS", "LOG_FORMAT", "DEBUG", "ALLOWED_HOSTS")


def load(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name.removesuffix("_FILE") not in OURS}
    env.update(VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), **variables)
    command = [sys.executable, "-c", LOAD_SETTINGS + "; print(settings.LOG_FORMAT, settings.METRICS_ALLOWED_NETWORKS)"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_short_metrics_token_is_refused_without_repeating_it(tmp_path: Path) -> None:
    result = load(tmp_path, METRICS_TOKEN="short-Tk9")
    assert result.returncode != 0
    assert "METRICS_TOKEN must be at least 16 characters" in result.stderr
    assert "short-Tk9" not in result.stderr + result.stdout


def test_the_metrics_token_may_come_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text("from-a-file-Zq4Lm8Rt2Vw6\n")
    assert load(tmp_path, METRICS_TOKEN_FILE=str(token_file)).returncode == 0


def test_an_allowed_network_that_is_not_a_network_is_refused(tmp_path: Path) -> None:
    for value in ("10.0.0.1/8", "10.0.0.0/33", "everyone", "10.0.0.0/8,*"):
        result = load(tmp_path, METRICS_ALLOWED_NETWORKS=value)
        assert result.returncode != 0, value
        assert "METRICS_ALLOWED_NETWORKS must list networks" in result.stderr


def test_allowed_networks_are_read_as_a_list(tmp_path: Path) -> None:
    result = load(tmp_path, METRICS_ALLOWED_NETWORKS="10.0.0.0/8, fd00::/8")
    assert result.returncode == 0, result.stderr
    assert "['10.0.0.0/8', 'fd00::/8']" in result.stdout


def test_logs_are_plain_in_development_and_json_in_production_unless_told(tmp_path: Path) -> None:
    assert load(tmp_path).stdout.startswith("plain ")
    assert load(tmp_path, LOG_FORMAT="json").stdout.startswith("json ")
    refused = load(tmp_path, LOG_FORMAT="xml")
    assert refused.returncode != 0
    assert "LOG_FORMAT must be one of json, plain" in refused.stderr
