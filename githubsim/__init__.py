"""A faithful, strict GitHub simulator on loopback: App API, Actions OIDC issuer, git smart HTTP over TLS."""

from __future__ import annotations

from githubsim.simulator import GitHubSimulator

__all__ = ["GitHubSimulator"]
