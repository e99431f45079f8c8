"""Where a reload goes after a page that answered a form.

Every form that succeeds answers ``303 See Other`` (POST-redirect-GET). The
pages that answer a POST themselves — a refused form shown again with its
reason, the one-time page with a new API key — name the page the form was
on; ``common.js`` puts that address in the history with ``replaceState``, so
a reload (or Back, then Forward) asks for that page with GET and never sends
the form again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import request

from panic_trio.web.auth import safe_next


def reload_url() -> str | None:
    """For an answer to a POST: the same-site page the form was on, else ``None``."""
    if request.method != "POST" or not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    if parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
