"""Turning stored values into safe page content.

Model output and descriptions are untrusted: Markdown is rendered with raw
HTML disabled and the result is sanitised again with nh3, so a model (or an
owner) can never inject markup or script. Live tiles in the browser use
``textContent`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from panic_trio.domain import Invocation, RunnerStatus, utc_now
from panic_trio.domain import usd as money
from panic_trio.models import Model, all_models, find_model

_MARKDOWN: Final = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)
_TAGS: Final = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES: Final = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
MEDIA_PATHS: Final = ("/dummy/", "/archive/")


def markdown(text: str | None) -> Markup:
    """Sanitised HTML for Markdown ``text`` (raw HTML in it is shown as text)."""
    html = _MARKDOWN.render(text or "")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # sanitised by nh3 just above


def media_src(url: str | None, base_url: str) -> str:
    """A URL of our own media made relative, so it works from any host name."""
    if not url:
        return ""
    for path in MEDIA_PATHS:
        if url.startswith(base_url + path):
            return url[len(base_url) :]
    return url


def model_json(model: Model) -> dict[str, Any]:
    """What the browser needs to know about a model."""
    return {
        "id": model.id,
        "name": model.name,
        "input": model.input_type,
        "output": model.output_type,
        "url": model.url,
        "deprecated": model.deprecated,
        "paid": model.paid,
    }


def catalog_json(extra_ids: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Pickable models plus any ``extra_ids`` (deprecated ones a network still uses)."""
    models = {m.id: model_json(m) for m in all_models(include_deprecated=False)}
    for model_id in extra_ids:
        found = find_model(model_id)
        if found is not None:
            models[found.id] = model_json(found)
    return models


def model_label(model_id: str) -> str:
    """``Name (in -> out)``, or the id for a model that no longer exists."""
    model = find_model(model_id)
    if model is None:
        return f"{model_id} (unknown model)"
    return f"{model.name} ({model.input_type} -> {model.output_type})"


def output_type(invocation: Invocation) -> str:
    """The kind of tile an invocation needs: ``text``, ``image``, ``audio`` or ``unknown``."""
    model = find_model(invocation.model)
    return "unknown" if model is None else model.output_type


def input_type(invocation: Invocation) -> str:
    """The media type of an invocation's input (``unknown`` for a missing model)."""
    model = find_model(invocation.model)
    return "unknown" if model is None else model.input_type


def seconds_until(moment: datetime | None, now: datetime | None = None) -> int:
    """Whole seconds from now until ``moment`` (0 if past or unset)."""
    if moment is None:
        return 0
    remaining = (moment - (now or utc_now())).total_seconds()
    return max(0, int(-(-remaining // 1)))


def usd(amount: float | None) -> str:
    """Money as the pages show it (the same rule as ``spending.js``): cents from $1 up."""
    if amount is None:
        return "none"
    if amount >= 1:
        return f"${amount:,.2f}"
    if 0 < amount < 0.0001:
        return "<$0.0001"
    return f"${amount:.4f}"


def cap_usd(amount: float | None) -> str:
    """A cap as the cap messages write it (``$0.07``), or ``none``."""
    return "none" if amount is None else money(amount)


def spent(window: Mapping[str, Any] | None) -> str:
    """A spend window ``{amount, unknown}`` in words: unknown costs are said, not hidden."""
    if window is None:
        return "no run"
    text = usd(window["amount"])
    unknown = window.get("unknown", 0)
    if unknown:
        text += f" + {unknown} unknown"
    return text


def age_words(seconds: float) -> str:
    """A duration as the runner status shows it: ``42s``, ``3m 5s``, ``2h 7m`` (the original's)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def run_age(status: RunnerStatus, now: datetime | None = None) -> str:
    """How long the active run has gone (since its genesis), or ``""`` when none is active.

    The genesis's insert time is the run's start even across restarts, so a
    resumed run shows its whole age, not the time since the server came back.
    """
    if not status.active or status.genesis is None:
        return ""
    return age_words(((now or utc_now()) - status.genesis.inserted_at).total_seconds())


def status_label(status: RunnerStatus) -> str:
    """A runner status in words, as the control panel first renders it."""
    if status.state == "failed":
        return f"Failed: {status.error or 'unknown error'}"
    if status.state == "waiting":
        return f"Waiting: next invocation in {seconds_until(status.next_invocation_at)} s"
    return {"idle": "Idle", "invoking": "Invoking"}.get(status.state, status.state)
