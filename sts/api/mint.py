from __future__ import annotations

from rest_framework.views import APIView


class MintView(APIView):
    """Scaffold: replaced by issue 5."""


class RevokeView(APIView):
    """Scaffold: replaced by issue 5."""
