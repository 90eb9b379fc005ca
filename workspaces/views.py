"""The two pages of the App's self-service installation: the button's POST, and GitHub's setup URL.

Both translate HTTP to `workspaces.installation_setup` and back; neither is an admin page, but both ask
for the admin's login, and the result page wears the admin's look.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from workspaces.installation_setup import (
    SetupAnswer,
    SetupRefused,
    installation_setup_begin,
    installation_setup_complete,
    may_install,
)
from workspaces.models import Workspace

ADMIN_LOGIN = reverse_lazy("admin:login")
# A value GitHub sends is a few dozen characters; a longer one is cut before anything reads it.
LONGEST_VALUE = 1000


@never_cache
@require_POST
@login_required(login_url=ADMIN_LOGIN)
def installation_setup_start(request: HttpRequest, public_id: str) -> HttpResponse:
    workspace = Workspace.objects.filter(public_id=public_id).first()
    # Another workspace is a 404 like one that does not exist: which ids exist is not for outsiders.
    if workspace is None or not may_install(user=request.user, workspace=workspace):  # type: ignore[arg-type]
        raise Http404("There is no such workspace.")
    try:
        url = installation_setup_begin(user=request.user, workspace=workspace)  # type: ignore[arg-type]
    except SetupRefused as refusal:
        return _result(request, refusal=refusal, workspace=workspace)
    return HttpResponseRedirect(url)


@never_cache
@require_GET
@login_required(login_url=ADMIN_LOGIN)
def installation_setup_callback(request: HttpRequest) -> HttpResponse:
    answer = SetupAnswer(
        state=_value(request, "state"),
        code=_value(request, "code"),
        installation_id=_value(request, "installation_id"),
        setup_action=_value(request, "setup_action"),
        error=_value(request, "error"),
    )
    try:
        result = installation_setup_complete(
            user=request.user,  # type: ignore[arg-type]
            answer=answer,
            request_id=str(getattr(request, "request_id", "")),
        )
    except SetupRefused as refusal:
        return _result(request, refusal=refusal, workspace=None)
    return _result(
        request, refusal=None, workspace=result.workspace, installation=result.installation, relinked=result.relinked
    )


def _value(request: HttpRequest, name: str) -> str:
    return str(request.GET.get(name, ""))[:LONGEST_VALUE]


def _result(
    request: HttpRequest, *, refusal: SetupRefused | None, workspace: Workspace | None, **context: object
) -> HttpResponse:
    back = reverse("admin:workspaces_workspace_change", args=[workspace.pk]) if workspace is not None else None
    response = render(
        request,
        "workspaces/installation_setup.html",
        {
            "site_header": "Atmos Pro STS",
            "site_title": "Atmos Pro STS",
            "title": "Installing on GitHub",
            "refusal": refusal,
            "workspace": workspace,
            "workspace_url": back or reverse("admin:index"),
            **context,
        },
        status=refusal.status if refusal is not None else 200,
    )
    # The page's own URL holds GitHub's one-use code: no link from it sends that URL on as a Referer.
    response["Referrer-Policy"] = "no-referrer"
    return response
