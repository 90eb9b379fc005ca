"""The audit review pages: the search with its facets and chart, one event in full, the exports, and
the trust-policy simulator (`review.simulate`).

Each view reads the readable workspaces (`review.access`), the query from the URL, and hands both to
the audit log's selectors; a query that cannot be read is shown back with its sentence (status 400).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from audit.models import AuditEvent
from audit.query import AuditQueryError, query_with
from audit.selectors import Cursor, audit_events_for, audit_page, audit_summary, event_link_problem, listed
from review.access import audit_workspaces_for
from review.chart import HEIGHT, WIDTH, chart_bars, chart_rects
from review.exports import csv_lines, jsonl_lines
from review.simulate import IDENTIFIED_ACTIONS, SimulationForm, simulation_initial
from sts.models import MintedToken

LOGIN_URL = "admin:login"
# What GitHub allows in an owner/name and a run id; anything else gets no link.
_REPOSITORY = re.compile(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}")
_RUN_ID = re.compile(r"[0-9]{1,20}")


@require_GET
@login_required(login_url=LOGIN_URL)
def audit_list(request: HttpRequest) -> HttpResponse:
    workspaces = audit_workspaces_for(request)
    query = request.GET.get("q", "")
    context: dict[str, Any] = {"query": query, "error": None}
    try:
        events = audit_events_for(workspace_public_ids=workspaces, query=query)
        before = request.GET.get("before")
        page = audit_page(events=listed(events), before=Cursor.parse(before) if before else None)
    except AuditQueryError as error:
        context["error"] = str(error)
        return render(request, "audit/list.html", context, status=400)
    summary = audit_summary(events=events)
    facets = summary.facets
    context.update(
        page=page,
        first_page=not before,
        facets={
            "Outcome": _facet(query, "outcome", facets.outcomes),
            "Action": _facet(query, "action", facets.actions),
            "Top callers": _facet(query, "repo", facets.callers),
            "Top sources": _facet(query, "source", facets.sources),
        },
        summary=summary,
        rects=chart_rects(chart_bars(summary.buckets)),
        chart_width=WIDTH,
        chart_height=HEIGHT,
    )
    return render(request, "audit/list.html", context)


@require_GET
@login_required(login_url=LOGIN_URL)
def audit_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    workspaces = audit_workspaces_for(request)
    event = audit_events_for(workspace_public_ids=workspaces).filter(pk=event_id).first()
    if event is None:
        raise Http404("No such audit event.")
    identity = event.identity if isinstance(event.identity, dict) else {}
    detail = event.detail if isinstance(event.detail, dict) else {}
    sources = list(event.sources.order_by("pk"))
    context = {
        "event": event,
        "identity": identity,
        "run_url": _run_url(event),
        "policy_name": detail.get("policy_name", ""),
        "requested": detail.get("requested"),
        "sources": [(source, _decision(detail, source.repository)) for source in sources],
        "tokens": _tokens(event, detail, sources, workspaces),
        "link_problem": event_link_problem(event),
        "simulable": event.action in IDENTIFIED_ACTIONS and bool(identity),
    }
    return render(request, "audit/detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required(login_url=LOGIN_URL)
def policy_simulator(request: HttpRequest) -> HttpResponse:
    workspaces = audit_workspaces_for(request)
    if request.method != "POST":
        initial = simulation_initial(event_id=request.GET.get("event", ""))
        form = SimulationForm(initial=initial, workspaces=workspaces)
        return render(request, "policies/simulate.html", {"form": form})
    form = SimulationForm(request.POST, workspaces=workspaces)
    if not form.is_valid():
        return render(request, "policies/simulate.html", {"form": form}, status=400)
    context = {"form": form, "simulation": form.simulation(), "switch_workspace": form.switch_workspace()}
    return render(request, "policies/simulate.html", context)


@require_GET
@login_required(login_url=LOGIN_URL)
def audit_export(request: HttpRequest, export_format: str) -> HttpResponse | StreamingHttpResponse:
    workspaces = audit_workspaces_for(request)
    try:
        events = audit_events_for(workspace_public_ids=workspaces, query=request.GET.get("q", ""))
    except AuditQueryError as error:
        return HttpResponse(f"{error}\n", status=400, content_type="text/plain; charset=utf-8")
    if export_format == "csv":
        lines, content_type = csv_lines(events), "text/csv; charset=utf-8"
    else:
        lines, content_type = jsonl_lines(events), "application/jsonl; charset=utf-8"
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="audit.{export_format}"'
    return response


def _facet(query: str, key: str, counts: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
    return [(value, count, query_with(query, key=key, value=value)) for value, count in counts]


def _run_url(event: AuditEvent) -> str | None:
    if not (_REPOSITORY.fullmatch(event.repository) and _RUN_ID.fullmatch(event.run_id)):
        return None
    return f"https://{settings.GITHUB_HOST}/{event.repository}/actions/runs/{event.run_id}"


def _decision(detail: dict[str, Any], repository: str) -> dict[str, Any]:
    """The mint's own account of one source (the rule, or the policy's explanation), from the event."""
    for decision in detail.get("decisions") or []:
        if isinstance(decision, dict) and str(decision.get("repo", "")).lower() == repository.lower():
            return decision
    return {}


def _tokens(
    event: AuditEvent, detail: dict[str, Any], sources: list[Any], workspaces: Collection[str] | None
) -> list[dict[str, Any]]:
    """Each token the event handed out: the recorded facts, and its row in the mint's table (revocation)
    while that row is kept."""
    facts = {
        str(fact.get("fingerprint")): fact
        for fact in detail.get("tokens") or []
        if isinstance(fact, dict) and fact.get("fingerprint")
    }
    fingerprints = list(dict.fromkeys([*facts, *(source.fingerprint for source in sources if source.fingerprint)]))
    minted = MintedToken.objects.filter(fingerprint__in=fingerprints, workspace__public_id=event.workspace_public_id)
    if workspaces is not None:
        minted = minted.filter(workspace__public_id__in=list(workspaces))
    rows = {token.fingerprint: token for token in minted}
    return [{"fingerprint": fp, "fact": facts.get(fp, {}), "minted": rows.get(fp)} for fp in fingerprints]
