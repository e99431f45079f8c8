"""One model call of a run: the model, its platform, the owner's token and the time limit.

Everything here can fail as a :class:`PlatformError` in words a person can
act on (no such model any more, no token, no answer in time, an empty
answer); the runner records that message and ends the run.
"""

from __future__ import annotations

import trio

from panic_trio.domain import Invocation, Network
from panic_trio.engine.requests import RunnerDeps
from panic_trio.errors import MissingToken, PanicError, PlatformError, PlatformTimeout
from panic_trio.models import get_model
from panic_trio.platforms.base import Call, Result


async def call_model(deps: RunnerDeps, network: Network, invocation: Invocation) -> Result:
    """Invoke ``invocation``'s model with the network owner's token, within ``invoke_timeout``."""
    try:
        model = get_model(invocation.model)
    except PanicError:
        raise PlatformError(f"Model with ID '{invocation.model}' no longer exists") from None
    platform = deps.platforms.get(model.platform)
    if platform is None:
        raise PlatformError(f"the {model.platform} platform is not configured on this server")
    token = None
    if platform.requires_token:
        token = await deps.tokens(network, platform.name)
        if not token:
            raise MissingToken(
                f"no {platform.display_name} token configured for this network's owner",
                platform=platform.name,
                model=model.id,
            )
    call = Call(model=model, input=invocation.input, token=token, invocation_id=invocation.id)
    timeout = deps.settings.invoke_timeout
    try:
        with trio.fail_after(timeout):
            result = await deps.invoke(platform, call)
    except trio.TooSlowError:
        raise PlatformTimeout(
            f"{model.name} did not answer within {timeout:g} s", platform=platform.name
        ) from None
    if not result.output.strip():
        raise PlatformError(f"{model.name} returned an empty output", platform=platform.name)
    return result
