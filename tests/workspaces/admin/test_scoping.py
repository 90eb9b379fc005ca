"""No model reaches the admin without a decided scope, and every scoped admin's parts stay scoped."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path

from workspaces.access import ROLE_PERMISSIONS
from workspaces.admin_site import OperatorOnlyAdmin, WorkspaceScopedAdmin
from workspaces.models import Workspace

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _ids(item: Any) -> str:
    return str(item[0]._meta.label)


@pytest.mark.parametrize("registered", REGISTRY, ids=_ids)
def test_every_registered_model_admin_chose_a_scope(registered: tuple[Any, Any]) -> None:
    model, model_admin = registered
    assert isinstance(model_admin, WorkspaceScopedAdmin | OperatorOnlyAdmin), (
        f"{model._meta.label} is in the admin without a scope: extend WorkspaceScopedAdmin (and add it to "
        "workspaces.access.ROLE_PERMISSIONS) or OperatorOnlyAdmin."
    )


SCOPED = [item for item in REGISTRY if isinstance(item[1], WorkspaceScopedAdmin)]


@pytest.mark.parametrize("registered", SCOPED, ids=_ids)
def test_a_scoped_admin_reaches_a_workspace_and_has_a_row_in_the_role_table(registered: tuple[Any, Any]) -> None:
    model, model_admin = registered
    assert model._meta.label_lower in ROLE_PERMISSIONS
    if model_admin.workspace_lookup == "pk":
        assert model is Workspace
        return
    target = get_fields_from_path(model, model_admin.workspace_lookup)[-1]
    if model_admin.workspace_key == "public_id":
        assert target.name == model_admin.workspace_lookup
    else:
        assert target.related_model is Workspace


@pytest.mark.parametrize("registered", SCOPED, ids=_ids)
def test_a_scoped_admin_autocompletes_only_from_scoped_admins(registered: tuple[Any, Any]) -> None:
    model, model_admin = registered
    for name in model_admin.autocomplete_fields:
        remote = model._meta.get_field(name).related_model
        assert isinstance(admin.site._registry[remote], WorkspaceScopedAdmin | OperatorOnlyAdmin)
    assert not model_admin.raw_id_fields, "a raw id field's popup must be a scoped admin's list too"
    assert not model_admin.inlines, "inlines keep Django's own permissions: show related rows as fields instead"
