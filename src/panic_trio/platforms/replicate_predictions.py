"""What a settled Replicate prediction gives: its output, its usage, or the error it stands for.

Kept apart from the HTTP conversation (``replicate.py``) because these are
pure readings of a prediction's JSON, tested without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from panic_trio.errors import ContentFiltered, PlatformRejected, PredictionFailed
from panic_trio.platforms.policy import detect_nsfw

PLATFORM: Final = "replicate"
# A failed prediction whose error reads like this was refused for its input:
# running it again would fail the same way (and bill again).
_INPUT_ERROR: Final = re.compile(
    r"invalid input|input validation|validation error|unprocessable|is not a valid|"
    r"must be (?:one of|a|an|less|greater|at)|too (?:long|large|short)",
    re.IGNORECASE,
)


def brief(value: Any) -> str:
    """A JSON value cut to 200 characters, for error messages."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def prediction_usage(prediction: Mapping[str, Any]) -> dict[str, float]:
    """What Replicate bills a settled prediction by, from its ``metrics`` and output.

    ``predict_time`` (seconds of compute) for models billed by hardware time,
    token counts for language models, and the number of outputs (``image_count``
    when Replicate reports it, else the length of a list output, else one).
    """
    metrics = prediction.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    usage: dict[str, float] = {}
    for usage_key, metric in (
        ("seconds", "predict_time"),
        ("input_tokens", "input_token_count"),
        ("output_tokens", "output_token_count"),
    ):
        value = metrics.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            usage[usage_key] = value
    images = metrics.get("image_count")
    output = prediction.get("output")
    if isinstance(images, int) and not isinstance(images, bool):
        usage["outputs"] = images
    elif isinstance(output, list):
        usage["outputs"] = len(output)
    elif output is not None:
        usage["outputs"] = 1
    return usage


def settled_output(prediction: Mapping[str, Any], model_id: str) -> Any:
    """The output of a settled prediction, or the error its status stands for."""
    status = prediction.get("status")
    prediction_id = prediction.get("id")
    if status == "succeeded":
        return prediction.get("output")
    if status == "failed":
        error = prediction.get("error")
        if isinstance(error, str) and error:
            reason = error
        else:
            reason = brief(error) if error else "no reason given"
        if detect_nsfw(error):
            raise ContentFiltered(
                f"Replicate refused the content for {model_id}: {reason}",
                platform=PLATFORM,
                model=model_id,
            )
        failure = PlatformRejected if _INPUT_ERROR.search(reason) else PredictionFailed
        raise failure(
            f"Replicate prediction {prediction_id} for {model_id} failed: {reason}",
            platform=PLATFORM,
            model=model_id,
        )
    if status == "canceled":
        message = f"Replicate prediction {prediction_id} for {model_id} was cancelled on Replicate"
    else:
        message = (
            f"Replicate prediction {prediction_id} for {model_id} "
            f"ended with an unknown status {status!r}"
        )
    raise PlatformRejected(message, platform=PLATFORM, model=model_id)
