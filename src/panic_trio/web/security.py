"""Security headers for every HTTP response.

The CSP allows scripts and styles from this origin only (no inline script,
no inline style), media from this origin, ``data:`` and HTTPS (provider and
archive URLs), and WebSockets back to this host. Pages cannot be framed.
When the public URL is https, HSTS tells browsers to use nothing else.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from quart import Response, request

HSTS_SECONDS: Final = 365 * 24 * 3600
_STATIC: Final = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(base_url: str, host: str) -> str:
    """The CSP for a page served to ``host`` by a server whose public URL is ``base_url``."""
    media = " ".join(filter(None, ("'self'", "data:", "blob:", "https:", _origin(base_url))))
    sockets = f"'self' ws://{host} wss://{host}" if host else "'self'"
    return "; ".join((*_STATIC, f"img-src {media}", f"media-src {media}", f"connect-src {sockets}"))


def add_security_headers(response: Response, base_url: str) -> Response:
    """Set CSP, framing, sniffing and referrer headers (unless a view set them)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(base_url, request.host))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if base_url.startswith("https://"):  # browsers then never try plain HTTP first
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response
