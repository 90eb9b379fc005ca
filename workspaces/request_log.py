"""What a server's request log may show of our URLs: the setup URL without GitHub's one-use code.

Loaded by the logging configuration before the apps are ready, so it imports nothing of Django's.
"""

from __future__ import annotations

import logging
import re

# The setup URL, plain or URL-encoded (once or more) as it is in the login page's `next`
# (`/admin/login/?next=/github/setup%3Fstate%3D…%26code%3D…`): from its `?` to the end of the URL.
_SETUP_QUERY = re.compile(r"((?:/|%(?:25)*2F)github(?:/|%(?:25)*2F)setup)(\?|%(?:25)*3F)[^\s\"']*", re.IGNORECASE)


class SetupQueryLogFilter(logging.Filter):
    """Request lines of the setup URL carry GitHub's one-use code, and so do those of the login page a
    person not signed in is sent to, in its `next`: a server's request log (Django's `django.server`)
    shows both without the setup URL's query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _SETUP_QUERY.sub(r"\1\2[query removed]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SETUP_QUERY.sub(r"\1\2[query removed]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
