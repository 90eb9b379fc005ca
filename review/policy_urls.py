from __future__ import annotations

from django.urls import path

from review import views

app_name = "policies"
urlpatterns = [
    path("simulate/", views.policy_simulator, name="simulate"),
]
