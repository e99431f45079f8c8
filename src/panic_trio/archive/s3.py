"""The S3 archive: any S3-compatible store (AWS, MinIO, R2, Tigris, moto) via boto3.

boto3 is blocking, so every call runs in the ``"s3"`` thread seam (at most 4
at once). Those calls cannot be cancelled once started, which is why the client
has explicit connect and read timeouts (botocore's default is 60 s each).
Credentials come from the standard ``AWS_*`` variables, read by boto3 itself.
botocore errors become :class:`ArchiveError` here and nowhere else.
"""

from __future__ import annotations

from typing import Any, Final

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError
from panic_trio.settings import Settings

CONNECT_TIMEOUT_SECONDS: Final = 5.0
READ_TIMEOUT_SECONDS: Final = 30.0
S3_CAPACITY: Final = 4
CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
_TRANSIENT_CODES: Final = frozenset(
    {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"}
)


def _make_client(endpoint_url: str | None) -> Any:
    # Imported here: boto3 takes ~0.2 s to import, which the local backend never pays.
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},  # local endpoints have no bucket DNS names
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": 2, "mode": "standard"},
        max_pool_connections=S3_CAPACITY * 2,
    )
    # A session per client: sessions are not thread-safe, clients are.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def to_archive_error(exc: Exception, doing: str) -> ArchiveError:
    """Translate a botocore error into an :class:`ArchiveError`, deciding if it is transient."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ArchiveError(
            f"{doing}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = str(error.get("Code", status))
        transient = status >= 500 or code in _TRANSIENT_CODES
        return ArchiveError(
            f"{doing}: {code} {error.get('Message', '')}".strip(), transient=transient
        )
    if isinstance(exc, ParamValidationError):
        return ArchiveError(f"{doing}: {exc}")
    if isinstance(exc, BotoCoreError):  # connection refused, timeouts, dropped connections
        return ArchiveError(f"{doing}: {exc}", transient=True)
    return ArchiveError(f"{doing}: {exc}")


class S3Archive:
    """Archived outputs as objects in one bucket.

    Create it with :meth:`connect`, which checks the bucket. The public URL
    of an object is ``<s3_public_url>/<key>`` when that is set (a CDN or a
    public bucket domain), else ``<endpoint>/<bucket>/<key>``. Objects get no
    ACL: make the bucket (or the CDN in front of it) publicly readable.
    """

    name: str = "s3"

    def __init__(self, client: Any, bucket: str, public_url: str, seam: ThreadSeam) -> None:
        self.client = client
        self.bucket = bucket
        self.public_url = public_url.rstrip("/")
        self._seam = seam

    @classmethod
    async def connect(cls, settings: Settings, *, inline: bool = False) -> S3Archive:
        """Create the client once and check (or create) the bucket.

        Raises:
            ArchiveError: the endpoint is unreachable, the credentials are
                missing or refused, or the bucket does not exist (and
                ``s3_create_bucket`` is off).
        """
        seam = ThreadSeam("s3", S3_CAPACITY, inline=inline)
        client = await seam.run(_make_client, settings.s3_endpoint_url)
        endpoint = str(client.meta.endpoint_url).rstrip("/")
        public = settings.s3_public_url or f"{endpoint}/{settings.s3_bucket}"
        archive = cls(client, settings.s3_bucket, public, seam)
        try:
            await seam.run(archive._check_bucket, settings.s3_create_bucket, endpoint)
        except BaseException:
            client.close()
            raise
        return archive

    def _check_bucket(self, create: bool, endpoint: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"S3 bucket {self.bucket!r} at {endpoint}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status != 404:
                raise to_archive_error(exc, f"cannot use {where}") from exc
            if not create:
                raise ArchiveError(
                    f"{where} does not exist: create it, or set PANIC_S3_CREATE_BUCKET=true"
                ) from exc
        except BotoCoreError as exc:
            raise to_archive_error(exc, f"cannot reach {where}") from exc
        region = self.client.meta.region_name
        extra: dict[str, Any] = {}
        if region and region != "us-east-1":  # us-east-1 refuses an explicit constraint
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise to_archive_error(exc, f"cannot create {where}") from exc

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Upload ``data`` as ``key`` (overwriting) and return its public URL.

        Raises:
            ArchiveError: the upload failed (``transient`` for connection
                errors, timeouts and 5xx).
        """
        await self._seam.run(self._put, key, data, content_type)
        return self.url_for(key)

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError) as exc:
            raise to_archive_error(exc, f"upload of {key} failed") from exc

    def url_for(self, key: str) -> str:
        """The object's public URL."""
        return f"{self.public_url}/{key}"

    def close(self) -> None:
        """Close the client's connection pool (no I/O beyond closing sockets)."""
        self.client.close()
