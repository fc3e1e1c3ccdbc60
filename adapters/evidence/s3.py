"""The evidence store on an S3-compatible object store (MinIO, Ceph, OSS/COS in S3 mode),
with boto3. The objects and their keys are the file store's (`ab/cd/<hex>…`); a PUT is
atomic on S3, so no temporary objects.

Configured by environment variables (or the same keys passed to bootstrap's `env`):
CASEGRID_EVIDENCE_S3_URL (the endpoint, e.g. http://127.0.0.1:9000), _BUCKET, _KEY,
_SECRET, and optionally _REGION (default us-east-1). The bucket is created if missing.
"""

from __future__ import annotations

from adapters.evidence.photos import Limits
from adapters.evidence.store import EvidenceStore
from domain.errors import ConfigError

PREFIX = "CASEGRID_EVIDENCE_S3_"


class S3Store(EvidenceStore):
    kind = "s3"

    def __init__(self, url: str, bucket: str, key: str, secret: str, *,
                 region: str = "us-east-1", limits: Limits | None = None):
        import boto3
        from botocore.config import Config

        super().__init__(limits)
        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
            region_name=region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                          connect_timeout=5, read_timeout=30))
        self._ensure_bucket()

    @classmethod
    def from_env(cls, env: dict, limits: Limits | None = None) -> S3Store:
        """From CASEGRID_EVIDENCE_S3_*; a missing one is a ConfigError naming it."""
        def need(name: str) -> str:
            value = env.get(PREFIX + name, "")
            if not value:
                raise ConfigError(PREFIX + name, "is required when CASEGRID_EVIDENCE_S3_URL is set")
            return value

        return cls(need("URL"), need("BUCKET"), need("KEY"), need("SECRET"),
                   region=env.get(PREFIX + "REGION") or "us-east-1", limits=limits)

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def _read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def _has(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
