from __future__ import annotations

import hashlib
import wave
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing
from PIL import Image

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import PlatformError
from panic_trio.local_media import DUMMY_URL_PATH
from panic_trio.models import MediaType, Model, get_model
from panic_trio.models.catalog import DUMMY_MODELS
from panic_trio.platforms.base import Call, Platform, Result
from panic_trio.platforms.dummy import CALLS_KEPT, DummyPlatform

BASE = "http://panic.test:8000"
GUARD_SECONDS = 20


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def make_call(model_id: str, value: str, invocation_id: int = 1) -> Call:
    return Call(model=get_model(model_id), input=value, token=None, invocation_id=invocation_id)


async def run(platform: DummyPlatform, model_id: str, value: str) -> str:
    with trio.fail_after(GUARD_SECONDS):
        result = await platform.invoke(make_call(model_id, value))
    return result.output


# Sync helpers keep blocking file reads out of async test bodies (ASYNC240).
def contents(path: Path | None) -> bytes:
    assert path is not None
    return path.read_bytes()


def png_shape(path: Path | None) -> tuple[str | None, tuple[int, int]]:
    assert path is not None
    with Image.open(path) as img:
        return img.format, img.size


def wav_shape(path: Path | None) -> tuple[int, int, int, float]:
    assert path is not None
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return rate, wav.getnchannels(), wav.getsampwidth(), wav.getnframes() / rate


def names_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media" / "dummy"  # not there yet: invoke makes it


@pytest.fixture
def dummy(media_dir: Path) -> DummyPlatform:
    return DummyPlatform(media_dir=media_dir, base_url=BASE, seam=ThreadSeam("dummy-media", 2))


def test_is_a_tokenless_platform_named_dummy(dummy: DummyPlatform) -> None:
    platform: Platform = dummy  # satisfies the protocol (checked by mypy)
    assert (platform.name, platform.display_name, platform.requires_token) == (
        "dummy",
        "Dummy",
        False,
    )
    assert DUMMY_URL_PATH == "/dummy/"


def test_negative_delay_is_rejected(media_dir: Path) -> None:
    with pytest.raises(ValueError, match="delay"):
        DummyPlatform(media_dir=media_dir, base_url=BASE, delay=-1, seam=ThreadSeam("d", 1))


# --- text outputs: exactly the original's strings --------------------------------


async def test_t2t_reverses_the_text(dummy: DummyPlatform) -> None:
    assert await run(dummy, "dummy-t2t", "hello world") == "DUMMY_TEXT: dlrow olleh"
    assert await run(dummy, "dummy-t2t", "") == "DUMMY_TEXT: "


async def test_i2t_of_our_image_names_its_hash(dummy: DummyPlatform) -> None:
    image = await run(dummy, "dummy-t2i", "a red boat")
    assert await run(dummy, "dummy-i2t", image) == (
        f"DUMMY_CAPTION: Image with hash {md5('a red boat')}"
    )
    transformed = await run(dummy, "dummy-i2i", image)
    assert await run(dummy, "dummy-i2t", transformed) == (
        f"DUMMY_CAPTION: Image with hash transformed_{md5(image + '_transformed')}"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "https://dummy-images.test/abc.png",
        f"http://elsewhere.test{DUMMY_URL_PATH}{'a' * 32}.png",
        f"{BASE}{DUMMY_URL_PATH}{'a' * 32}.wav",  # ours, but not an image
        f"{BASE}{DUMMY_URL_PATH}../secret.png",
    ],
)
async def test_i2t_of_any_other_url_is_a_descriptive_caption(
    dummy: DummyPlatform, url: str
) -> None:
    assert await run(dummy, "dummy-i2t", url) == (
        f"DUMMY_CAPTION: A descriptive caption for image {md5(url)[:8]}"
    )


async def test_a2t_transcribes_to_a_hash(dummy: DummyPlatform) -> None:
    url = await run(dummy, "dummy-t2a", "a song")
    assert await run(dummy, "dummy-a2t", url) == (
        f"DUMMY_TRANSCRIPT: Audio content from {md5(url)[:8]}"
    )


# --- media outputs: URL shapes and real files -------------------------------------

SOURCE = "https://example.com/source-file"
NAMES: dict[str, Callable[[str], str]] = {
    "dummy-t2i": lambda s: md5(s),
    "dummy-i2i": lambda s: "transformed_" + md5(s + "_transformed"),
    "dummy-a2i": lambda s: "from_audio_" + md5(s + "_image"),
    "dummy-t2a": lambda s: md5(s),
    "dummy-i2a": lambda s: "from_image_" + md5(s + "_audio"),
    "dummy-a2a": lambda s: "transformed_" + md5(s + "_transformed"),
}


@pytest.mark.parametrize("model_id", ["dummy-t2i", "dummy-i2i", "dummy-a2i"])
async def test_image_models_return_a_served_png(
    dummy: DummyPlatform, media_dir: Path, model_id: str
) -> None:
    url = await run(dummy, model_id, SOURCE)
    name = NAMES[model_id](SOURCE) + ".png"
    assert url == f"{BASE}/dummy/{name}"
    path = dummy.dummy_file(url)
    assert path == media_dir / name
    assert png_shape(path) == ("PNG", (640, 360))


@pytest.mark.parametrize("model_id", ["dummy-t2a", "dummy-i2a", "dummy-a2a"])
async def test_audio_models_return_a_served_wav(
    dummy: DummyPlatform, media_dir: Path, model_id: str
) -> None:
    url = await run(dummy, model_id, SOURCE)
    name = NAMES[model_id](SOURCE) + ".wav"
    assert url == f"{BASE}/dummy/{name}"
    path = dummy.dummy_file(url)
    assert path == media_dir / name
    assert wav_shape(path) == (16_000, 1, 2, 2.0)


async def test_every_dummy_model_is_deterministic_across_calls_and_instances(
    tmp_path: Path,
) -> None:
    assert len(DUMMY_MODELS) == 9
    seam = ThreadSeam("dummy-media", 2)
    one = DummyPlatform(media_dir=tmp_path / "one", base_url=BASE, seam=seam)
    two = DummyPlatform(media_dir=tmp_path / "two", base_url=BASE + "/", seam=seam)
    for model in DUMMY_MODELS:
        first = await run(one, model.id, SOURCE)
        assert await run(one, model.id, SOURCE) == first
        assert await run(two, model.id, SOURCE) == first
        assert await run(one, model.id, SOURCE + "!") != first
        path_one, path_two = one.dummy_file(first), two.dummy_file(first)
        if model.output_type == "text":
            assert path_one is None
        else:
            assert contents(path_one) == contents(path_two)
    names_two = names_in(tmp_path / "two")
    assert len(names_two) == 6
    assert names_two <= names_in(tmp_path / "one")


async def test_dummy_urls_chain_through_a_whole_cycle(dummy: DummyPlatform) -> None:
    value = "a quiet harbour"
    for model_id in ["dummy-t2i", "dummy-i2a", "dummy-a2a", "dummy-a2i", "dummy-i2i"]:
        value = await run(dummy, model_id, value)
        assert value.startswith(f"{BASE}/dummy/")
        assert contents(dummy.dummy_file(value))
    caption = await run(dummy, "dummy-i2t", value)
    assert caption.startswith("DUMMY_CAPTION: Image with hash transformed_")


@pytest.fixture
def existing_png(media_dir: Path) -> Path:
    media_dir.mkdir(parents=True)
    existing = media_dir / f"{md5('kept')}.png"
    existing.write_bytes(b"already here")
    return existing


async def test_existing_files_are_kept_and_no_temp_files_are_left(
    dummy: DummyPlatform, media_dir: Path, existing_png: Path
) -> None:
    await run(dummy, "dummy-t2i", "kept")
    assert contents(existing_png) == b"already here"
    await run(dummy, "dummy-t2a", "kept")
    assert names_in(media_dir) == {existing_png.name, f"{md5('kept')}.wav"}


async def test_concurrent_identical_calls_agree(dummy: DummyPlatform) -> None:
    outputs: list[str] = []

    async def one() -> None:
        outputs.append(await run(dummy, "dummy-t2i", "same"))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(one)
    assert len(set(outputs)) == 1
    assert png_shape(dummy.dummy_file(outputs[0])) == ("PNG", (640, 360))


async def test_unwritable_media_dir_is_a_platform_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    dummy = DummyPlatform(media_dir=blocker, base_url=BASE, seam=ThreadSeam("dummy-media", 1))
    with pytest.raises(PlatformError, match="Could not write dummy media") as info:
        await run(dummy, "dummy-t2i", "x")
    assert (info.value.platform, info.value.model) == ("dummy", "dummy-t2i")


async def test_unsupported_type_pair_is_a_platform_error(dummy: DummyPlatform) -> None:
    video = cast("MediaType", "video")
    model = Model("dummy-v2t", "Dummy Video", "dummy", "dummy/video", video, "text")
    with pytest.raises(PlatformError, match=r"^Unsupported dummy conversion from video to text$"):
        await dummy.invoke(Call(model=model, input="x", token=None, invocation_id=1))
    assert (len(dummy.calls), dummy.calls[0].model) == (1, model)


# --- dummy_file ---------------------------------------------------------------


def test_dummy_file_maps_our_urls_into_media_dir(dummy: DummyPlatform, media_dir: Path) -> None:
    assert dummy.dummy_file(f"{BASE}/dummy/abc_123.png") == media_dir / "abc_123.png"
    assert dummy.dummy_file(f"{BASE}/dummy/Z9.wav") == media_dir / "Z9.wav"


@pytest.mark.parametrize(
    "url",
    [
        "",
        f"{BASE}/dummy/",
        f"{BASE}/dummy/../etc.png",
        f"{BASE}/dummy/..%2fetc.png",
        f"{BASE}/dummy/%2e%2e.png",
        f"{BASE}/dummy/sub/x.png",
        f"{BASE}/dummy/x\\y.png",
        f"{BASE}/dummy/.hidden.png",
        f"{BASE}/dummy/x.png.tmp",
        f"{BASE}/dummy/x.png?download=1",
        f"{BASE}/dummy/x.ogg",
        f"{BASE}/dummy/x.png/",
        f"{BASE}/dummy/x.png\n",
        f"{BASE}/other/x.png",
        "http://elsewhere.test/dummy/x.png",
        "https://dummy-images.test/x.png",
        "/dummy/x.png",
    ],
)
def test_dummy_file_rejects_foreign_and_traversal_urls(dummy: DummyPlatform, url: str) -> None:
    assert dummy.dummy_file(url) is None


def test_relative_base_url_gives_relative_dummy_urls(media_dir: Path) -> None:
    dummy = DummyPlatform(media_dir=media_dir, base_url="", seam=ThreadSeam("d", 1))
    assert dummy.dummy_file("/dummy/x.png") == media_dir / "x.png"
    assert dummy.dummy_file("http://host/dummy/x.png") is None


# --- calls, delay and cancellation ---------------------------------------------


async def test_calls_are_recorded_in_order(dummy: DummyPlatform) -> None:
    calls = [make_call("dummy-t2t", f"p{i}", invocation_id=i) for i in range(3)]
    for call in calls:
        result = await dummy.invoke(call)
        assert isinstance(result, Result)
        assert result.metadata["latency_ms"] >= 0
    assert list(dummy.calls) == calls


def inline_dummy(media_dir: Path, delay: float) -> DummyPlatform:
    # The autojump clock does not wait for worker threads: render inline.
    seam = ThreadSeam("dummy-media", 1, inline=True)
    return DummyPlatform(media_dir=media_dir, base_url=BASE, delay=delay, seam=seam)


@pytest.mark.parametrize("model_id", ["dummy-t2t", "dummy-t2i", "dummy-t2a"])
async def test_delay_takes_exactly_that_long(
    autojump_clock: trio.testing.MockClock, media_dir: Path, model_id: str
) -> None:
    dummy = inline_dummy(media_dir, delay=5)
    start = trio.current_time()
    result = await dummy.invoke(make_call(model_id, "slow"))
    assert trio.current_time() - start == 5
    assert result.metadata == {"latency_ms": 5000}


async def test_zero_delay_still_checkpoints(
    autojump_clock: trio.testing.MockClock, media_dir: Path
) -> None:
    dummy = inline_dummy(media_dir, delay=0)
    with trio.CancelScope() as scope:
        scope.cancel("stopped")
        await dummy.invoke(make_call("dummy-t2t", "x"))
    assert scope.cancelled_caught
    assert len(dummy.calls) == 1


async def test_cancelling_during_the_delay_returns_at_once(
    autojump_clock: trio.testing.MockClock, media_dir: Path
) -> None:
    dummy = inline_dummy(media_dir, delay=60)
    start = trio.current_time()
    with trio.move_on_after(1) as scope:
        await dummy.invoke(make_call("dummy-t2i", "never drawn"))
    assert scope.cancelled_caught
    assert trio.current_time() - start == 1
    assert len(dummy.calls) == 1
    assert names_in(media_dir) == set()


async def test_stop_from_another_task_aborts_the_delay(
    autojump_clock: trio.testing.MockClock, media_dir: Path
) -> None:
    dummy = inline_dummy(media_dir, delay=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(dummy.invoke, make_call("dummy-t2t", "x"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel("stopped by admin")
    assert trio.current_time() == 0
    assert len(dummy.calls) == 1


async def test_the_call_log_is_bounded(dummy: DummyPlatform) -> None:
    for number in range(CALLS_KEPT + 5):
        await dummy.invoke(make_call("dummy-t2t", f"call {number}"))
    assert len(dummy.calls) == CALLS_KEPT
    assert dummy.calls[0].input == "call 5"
