"""What a server's request log may show of our URLs: the setup URL without GitHub's one-use code.

Loaded by the logging configuration before the apps are ready, so it imports nothing of Django's.
"""

from __future__ import annotations

import logging
import re

_SETUP_QUERY = re.compile(r"(/github/setup)\?[^\s\"']*")


class SetupQueryLogFilter(logging.Filter):
    """Request lines of the setup URL carry GitHub's one-use code: a server's request log (Django's
    `django.server`) shows them without their query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _SETUP_QUERY.sub(r"\1?[query removed]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SETUP_QUERY.sub(r"\1?[query removed]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
