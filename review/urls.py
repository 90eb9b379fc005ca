from __future__ import annotations

from django.urls import path

from review import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<int:event_id>/", views.audit_detail, name="detail"),
    path("export.csv", views.audit_export, {"export_format": "csv"}, name="export-csv"),
    path("export.jsonl", views.audit_export, {"export_format": "jsonl"}, name="export-jsonl"),
]
