from __future__ import annotations

from rest_framework.views import APIView


class OidcExchangeView(APIView):
    """Scaffold: replaced by issue 3."""
