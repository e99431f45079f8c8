"""The engine: per-network runners, their time rules and their event fan-out."""

from panic_trio.engine.engine import Engine, open_engine

__all__ = ["Engine", "open_engine"]
