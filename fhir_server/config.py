"""Server settings, all read from environment variables (listed in the README)."""

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    mongodb_db: str = "carnet"
    base_url: str = "http://localhost:8080/fhir"
    default_count: int = 20
    max_count: int = 200
    max_body_bytes: int = 20 * 1024 * 1024
    gridfs_threshold: int = 256 * 1024
    max_bundle_entries: int = 1000
    max_chain_ids: int = 1000
    include_limit: int = 1000
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values = dict(
            mongodb_uri=os.environ.get("MONGODB_URI") or None,
            mongodb_db=os.environ.get("MONGODB_DB", "carnet"),
            base_url=os.environ.get("FHIR_SERVER_BASE_URL", "http://localhost:8080/fhir").rstrip(
                "/"
            ),
            default_count=_int("FHIR_SERVER_DEFAULT_COUNT", 20),
            max_count=_int("FHIR_SERVER_MAX_COUNT", 200),
            max_body_bytes=_int("FHIR_SERVER_MAX_BODY_BYTES", 20 * 1024 * 1024),
            gridfs_threshold=_int("FHIR_SERVER_GRIDFS_THRESHOLD", 256 * 1024),
            max_bundle_entries=_int("FHIR_SERVER_MAX_BUNDLE_ENTRIES", 1000),
        )
        values.update(overrides)
        return cls(**values)
