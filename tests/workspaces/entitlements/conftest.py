"""Workspaces on the default plans and on a plan nobody configured, and the people who change them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import workspace_create
from workspaces.models import Plan, Workspace
from workspaces.services import Actor

STAFF = Actor("billing-bob", "staff")
ADMIN = Actor("ada", "member")


@pytest.fixture
def pro(db: None) -> Workspace:
    return workspace_create()


@pytest.fixture
def free(db: None) -> Workspace:
    return workspace_create(name="Hobby", plan="free")


@pytest.fixture
def bare(db: None) -> Workspace:
    """A workspace on a plan without a single feature row: every feature takes the registry's default."""
    return workspace_create(name="Bare", plan=Plan.objects.create(slug="bare", name="Bare"))


def in_days(days: float) -> datetime:
    return timezone.now() + timedelta(days=days)


def changes(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))
