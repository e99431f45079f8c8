"""Archive fixtures: a moto S3 server on loopback, a store with rows to archive, media servers.

moto runs in-process (``ThreadedMotoServer``) on 127.0.0.1, port 0. Its state
lives in the process, so a new server on the same port sees the same buckets,
which is how the tests bring storage "back". Each test uses its own bucket.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
import trio
from botocore.config import Config
from moto.server import ThreadedMotoServer

from panic_trio.domain import Invocation, Network
from panic_trio.settings import Settings
from panic_trio.store.store import Store, open_store
from tests.archive.media_server import MediaServer

GUARD = 20


def start_moto(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One S3 stand-in for the whole session (tests never stop this one)."""
    server, endpoint = start_moto()
    yield endpoint
    server.stop()


Servers = tuple[list[ThreadedMotoServer], str]


@pytest.fixture
async def own_moto() -> AsyncIterator[Servers]:
    """A moto server this test may stop; the last one in the list is the live one."""
    server, endpoint = await trio.to_thread.run_sync(start_moto)
    servers = [server]
    yield servers, endpoint
    for each in servers:
        await trio.to_thread.run_sync(each.stop)


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, as boto3 reads them; nothing from the developer's profile."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("panic_trio.archive.archiver.RETRY_DELAYS_SECONDS", (0.01, 0.01))


def new_bucket() -> str:
    return f"panic-test-{uuid.uuid4().hex[:12]}"


def with_s3(settings: Settings, endpoint: str, **changes: Any) -> Settings:
    return dataclasses.replace(
        settings,
        archive="s3",
        s3_endpoint_url=endpoint,
        s3_bucket=new_bucket(),
        s3_create_bucket=True,
        **changes,
    )


@pytest.fixture
def s3_settings(settings: Settings, moto_endpoint: str) -> Settings:
    return with_s3(settings, moto_endpoint)


def s3_client(endpoint: str) -> Any:
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


def get_object(endpoint: str, bucket: str, key: str) -> tuple[bytes, str]:
    """The object's bytes and content type (sync: call it through a thread)."""
    found = s3_client(endpoint).get_object(Bucket=bucket, Key=key)
    return found["Body"].read(), found["ContentType"]


def list_keys(endpoint: str, bucket: str) -> set[str]:
    listed = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in listed.get("Contents", [])}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


@pytest.fixture
async def network(store: Store) -> Network:
    user = await store.create_user(f"{uuid.uuid4().hex[:8]}@example.org", "not a real hash", False)
    return await store.create_network(user.id, "loop", "", ["dummy-t2i", "dummy-i2t"], 30)


async def completed(
    store: Store, network: Network, output: str, model: str = "dummy-t2i"
) -> Invocation:
    """A new run whose genesis completed with ``output`` (its next row is ``ready``)."""
    genesis = await store.create_genesis(network.id, model, "a prompt")
    done, _ = await store.complete_and_prepare_next(genesis.id, output, {})
    return done


@pytest.fixture
async def media(nursery: trio.Nursery) -> MediaServer:
    server = MediaServer()
    await server.start(nursery)
    return server
