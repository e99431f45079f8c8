"""Pure pieces: terminal tokens, rate limits, rendering."""

from __future__ import annotations

from datetime import timedelta

import pytest

from panic_trio.domain import Invocation, Network, RunnerStatus, utc_now
from panic_trio.web.ratelimit import RateLimiter, whole_seconds
from panic_trio.web.render import (
    age_words,
    markdown,
    media_src,
    run_age,
    seconds_until,
    status_label,
)
from panic_trio.web.terminal_tokens import TerminalTokens
from tests.web.conftest import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(clock: FakeClock) -> TerminalTokens:
    return TerminalTokens(b"k" * 32, clock=clock)


BORN = utc_now()


def net(network_id: int, *, born: timedelta = timedelta(0), generation: int = 0) -> Network:
    """A network as the store reads it: id, creation time and token generation."""
    return Network(
        network_id, 1, "n", "", ("dummy-t2t",), created_at=BORN + born, token_generation=generation
    )


def test_tokens_made_moments_apart_differ(tokens: TerminalTokens, clock: FakeClock) -> None:
    first = tokens.issue(net(123))
    clock.now += 0.01
    assert tokens.issue(net(123)) != first
    assert tokens.issue(net(123)) != tokens.issue(net(124))


def test_a_token_is_valid_for_an_hour_for_its_network(
    tokens: TerminalTokens, clock: FakeClock
) -> None:
    token = tokens.issue(net(123))
    assert tokens.check(token, net(123)) == "ok"
    assert tokens.check(token, net(456)) == "wrong_network"
    clock.now += 55 * 60
    assert tokens.check(token, net(123)) == "ok"
    clock.now += 6 * 60
    assert tokens.check(token, net(123)) == "expired"
    assert tokens.expires_at(token) == pytest.approx(FakeClock().now + 3600, abs=0.001)


def test_forged_and_malformed_tokens_are_invalid(tokens: TerminalTokens) -> None:
    token = tokens.issue(net(123))
    body, _, signature = token.rpartition(".")
    forged = body.replace("123-", "124-", 1) + "." + signature
    other_key = TerminalTokens(b"x" * 32).issue(net(123))
    for bad in (None, "", "junk", forged, other_key, token + "x", "a" * 500):
        assert tokens.check(bad, net(123)) == "invalid"
        assert tokens.check(bad, net(124)) == "invalid"


def test_a_token_binds_to_its_networks_creation_and_generation(tokens: TerminalTokens) -> None:
    # The probe: network 3 deleted, a stranger's new network got id 3, and the
    # old QR token worked on it. Same id, later creation: refused.
    token = tokens.issue(net(3))
    assert tokens.check(token, net(3, born=timedelta(microseconds=1))) == "revoked"
    assert tokens.check(token, net(3, born=timedelta(days=3))) == "revoked"
    # Its owner revoked the network's QR codes: the generation moved on.
    assert tokens.check(token, net(3, generation=1)) == "revoked"
    assert tokens.check(tokens.issue(net(3, generation=1)), net(3, generation=1)) == "ok"


def test_tokens_from_the_future_are_invalid(tokens: TerminalTokens, clock: FakeClock) -> None:
    clock.now += 3600
    token = tokens.issue(net(1))
    clock.now -= 3600
    assert tokens.check(token, net(1)) == "invalid"


def test_rate_limiter_refills_over_time(clock: FakeClock) -> None:
    limiter = RateLimiter(2, 10.0, clock=clock)
    assert [limiter.hit("a"), limiter.hit("a")] == [0.0, 0.0]
    assert limiter.hit("a") == pytest.approx(5.0)
    assert limiter.hit("b") == 0.0
    assert limiter.retry_after("a") == pytest.approx(5.0)
    clock.now += 5
    assert limiter.hit("a") == 0.0
    limiter.reset("a")
    assert limiter.retry_after("a") == 0.0


def test_whole_seconds_round_up() -> None:
    assert [whole_seconds(s) for s in (0.01, 1.0, 1.2, 29.999)] == [1, 1, 2, 30]


def test_markdown_never_lets_html_through() -> None:
    html = str(
        markdown("# Hi\n\n<script>x()</script> <b>b</b> [a](javascript:y) [ok](https://e.org)")
    )
    assert "<h1>Hi</h1>" in html
    assert "<script>" not in html
    assert "<b>" not in html
    assert 'href="javascript' not in html
    assert 'href="https://e.org"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_our_media_urls_become_relative() -> None:
    base = "http://127.0.0.1:8000"
    assert media_src(f"{base}/dummy/abc.png", base) == "/dummy/abc.png"
    assert media_src(f"{base}/archive/invocation-1-output.webp", base) == (
        "/archive/invocation-1-output.webp"
    )
    assert media_src("https://replicate.delivery/x.png", base) == "https://replicate.delivery/x.png"
    assert media_src(None, base) == ""


def test_status_labels() -> None:
    assert status_label(RunnerStatus()) == "Idle"
    assert status_label(RunnerStatus(state="failed", error="boom")) == "Failed: boom"
    soon = utc_now() + timedelta(seconds=4.2)
    assert status_label(RunnerStatus(state="waiting", next_invocation_at=soon)) == (
        "Waiting: next invocation in 5 s"
    )
    assert seconds_until(utc_now() - timedelta(seconds=3)) == 0


def test_age_words_are_the_originals() -> None:
    assert [age_words(s) for s in (0, 42.9, 60, 185, 3599, 3600, 7620, -3)] == [
        "0s", "42s", "1m 0s", "3m 5s", "59m 59s", "1h 0m", "2h 7m", "0s",
    ]  # fmt: skip


def test_run_age_counts_from_the_genesis_while_a_run_is_active() -> None:
    now = utc_now()
    genesis = Invocation(
        1, 1, 1, 0, "dummy-t2t", "hi", None, "completed", {}, now - timedelta(seconds=65), now
    )
    assert run_age(RunnerStatus(state="waiting", genesis=genesis), now) == "1m 5s"
    assert run_age(RunnerStatus(state="invoking", genesis=genesis), now) == "1m 5s"
    assert run_age(RunnerStatus(state="failed", genesis=genesis), now) == ""
    assert run_age(RunnerStatus(), now) == ""
