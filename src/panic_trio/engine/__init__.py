"""The engine: per-network runners, their time rules and their event fan-out."""

from panic_trio.engine.engine import Engine, open_engine
from panic_trio.engine.hooks import NO_HOOKS, RunHooks, StepHooks
from panic_trio.engine.requests import TokenLookup

__all__ = ["NO_HOOKS", "Engine", "RunHooks", "StepHooks", "TokenLookup", "open_engine"]
