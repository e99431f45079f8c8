"""Fake OpenAI, Replicate, Gemini and Vestaboard servers for tests.

Each fake is a small Quart-Trio app served by ``hypercorn.trio.serve`` on
127.0.0.1, port 0, inside the test's nursery (``await fake.start(nursery)``),
so the platform clients run their real httpx code against real sockets.
Every fake records each request it receives (``fake.requests``), checks
credentials the way its service does, and can be scripted per test: faults
(``fake.fail(...)``: any status, a ``Retry-After``, a malformed body, a delay)
and service-specific behaviour (replies, prediction lifecycles, NSFW errors).
"""
