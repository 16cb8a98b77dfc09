"""Server settings, all read from environment variables (listed in the README)."""

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    mongodb_db: str = "carnet"
    data_dir: str = "carnet-data"  # the embedded store's directory, when MONGODB_URI is unset
    base_url: str = "http://localhost:8080/fhir"
    default_count: int = 20
    max_count: int = 200
    max_body_bytes: int = 20 * 1024 * 1024
    gridfs_threshold: int = 256 * 1024
    max_bundle_entries: int = 1000
    max_chain_ids: int = 1000
    include_limit: int = 1000
    # Authorization (smart_auth)
    token_lifetime: int = 900
    refresh_lifetime: int = 30 * 24 * 3600
    admin_token: str | None = None
    outbox: str = "outbox.jsonl"
    otp_lifetime: int = 15 * 60
    login_max_failures: int = 5
    lockout_seconds: int = 15 * 60
    secret_key: str | None = None
    # External professional identity provider (OpenID Connect); unset issuer = built-in login only
    pro_idp_issuer: str | None = None
    pro_idp_client_id: str | None = None
    pro_idp_client_secret: str | None = None
    pro_idp_scope: str = "openid"
    pro_idp_id_claim: str = "sub"
    pro_idp_name: str | None = None
    # Access policy (consent): emergency access (break-glass, centre_15)
    emergency_token_lifetime: int = 900
    emergency_sees_masked: bool = False
    # Bulk import ($import): the directory whose NDJSON files may be named as file:// URLs
    import_dir: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def public_root(self) -> str:
        """The server's public root URL (the FHIR base without its /fhir): the token issuer."""
        return self.base_url[: -len("/fhir")] if self.base_url.endswith("/fhir") else self.base_url

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values = dict(
            mongodb_uri=os.environ.get("MONGODB_URI") or None,
            mongodb_db=os.environ.get("MONGODB_DB", "carnet"),
            data_dir=os.environ.get("FHIR_SERVER_DATA_DIR") or "carnet-data",
            base_url=os.environ.get("FHIR_SERVER_BASE_URL", "http://localhost:8080/fhir").rstrip(
                "/"
            ),
            default_count=_int("FHIR_SERVER_DEFAULT_COUNT", 20),
            max_count=_int("FHIR_SERVER_MAX_COUNT", 200),
            max_body_bytes=_int("FHIR_SERVER_MAX_BODY_BYTES", 20 * 1024 * 1024),
            gridfs_threshold=_int("FHIR_SERVER_GRIDFS_THRESHOLD", 256 * 1024),
            max_bundle_entries=_int("FHIR_SERVER_MAX_BUNDLE_ENTRIES", 1000),
            token_lifetime=_int("FHIR_SERVER_TOKEN_LIFETIME", 900),
            refresh_lifetime=_int("FHIR_SERVER_REFRESH_LIFETIME", 30 * 24 * 3600),
            admin_token=os.environ.get("FHIR_SERVER_ADMIN_TOKEN") or None,
            outbox=os.environ.get("FHIR_SERVER_OUTBOX", "outbox.jsonl"),
            secret_key=os.environ.get("FHIR_SERVER_SECRET_KEY") or None,
            otp_lifetime=_int("FHIR_SERVER_OTP_LIFETIME", 15 * 60),
            login_max_failures=_int("FHIR_SERVER_LOGIN_MAX_FAILURES", 5),
            lockout_seconds=_int("FHIR_SERVER_LOCKOUT_SECONDS", 15 * 60),
            pro_idp_issuer=os.environ.get("FHIR_SERVER_PRO_IDP_ISSUER") or None,
            pro_idp_client_id=os.environ.get("FHIR_SERVER_PRO_IDP_CLIENT_ID") or None,
            pro_idp_client_secret=os.environ.get("FHIR_SERVER_PRO_IDP_CLIENT_SECRET") or None,
            pro_idp_scope=os.environ.get("FHIR_SERVER_PRO_IDP_SCOPE") or "openid",
            pro_idp_id_claim=os.environ.get("FHIR_SERVER_PRO_IDP_ID_CLAIM") or "sub",
            pro_idp_name=os.environ.get("FHIR_SERVER_PRO_IDP_NAME") or None,
            import_dir=os.environ.get("FHIR_SERVER_IMPORT_DIR") or None,
            emergency_token_lifetime=_int("FHIR_SERVER_EMERGENCY_TOKEN_LIFETIME", 900),
            emergency_sees_masked=os.environ.get("FHIR_SERVER_EMERGENCY_SEES_MASKED", "")
            .strip()
            .lower()
            in ("1", "true", "yes"),
        )
        values.update(overrides)
        return cls(**values)
