"""Server settings, read from environment variables (listed in the README's tables).

Each setting is declared once: its default, and for those an operator sets, the variable it is
read from and how that variable's text becomes the value (`from_env`). tests/fhir_server/
test_config.py checks the README's tables against these declarations.
"""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class EnvVar:
    """Where a setting comes from: its environment variable and how its text is read."""

    name: str
    parse: Callable[[str], Any] = str
    # An empty variable counts as unset (the default applies); otherwise it is parsed like any text.
    blank_is_unset: bool = True


def _env(name: str, default: Any = None, parse: Callable[[str], Any] = str, **how) -> Any:
    return field(default=default, metadata={"env": EnvVar(name, parse, **how)})


def _integer(name: str, default: int) -> Any:
    """A whole number; an empty or non-numeric variable is an error (ValueError at start-up)."""
    return _env(name, default, int, blank_is_unset=False)


def _flag(name: str) -> Any:
    """Off unless the variable says `1`, `true` or `yes` (any case)."""
    return _env(name, False, lambda text: text.strip().lower() in ("1", "true", "yes"))


_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def _origins(text: str) -> tuple[str, ...]:
    """Comma-separated origins (`https://app.example`, `http://127.0.0.1:5173`), each exactly as
    browsers send it in `Origin`; `*` is refused: only the public metadata is open to any origin."""
    origins = tuple(o.strip().rstrip("/").lower() for o in text.split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(
                f"FHIR_SERVER_CORS_ORIGINS: '{origin}' is not an origin such as https://app.example"
                + (" ('*' is not allowed: list the apps' origins)" if origin == "*" else "")
            )
    return origins


def env_var(setting) -> EnvVar | None:
    """The environment variable a Settings field is read from (None: not configurable)."""
    return setting.metadata.get("env")


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = _env("MONGODB_URI")
    mongodb_db: str = _env("MONGODB_DB", "carnet", blank_is_unset=False)
    # The embedded store's directory, when MONGODB_URI is unset
    data_dir: str = _env("FHIR_SERVER_DATA_DIR", "carnet-data")
    base_url: str = _env(
        "FHIR_SERVER_BASE_URL",
        "http://localhost:8080/fhir",
        lambda text: text.rstrip("/"),
        blank_is_unset=False,
    )
    default_count: int = _integer("FHIR_SERVER_DEFAULT_COUNT", 20)
    max_count: int = _integer("FHIR_SERVER_MAX_COUNT", 200)
    max_body_bytes: int = _integer("FHIR_SERVER_MAX_BODY_BYTES", 20 * 1024 * 1024)
    gridfs_threshold: int = _integer("FHIR_SERVER_GRIDFS_THRESHOLD", 256 * 1024)
    max_bundle_entries: int = _integer("FHIR_SERVER_MAX_BUNDLE_ENTRIES", 1000)
    max_chain_ids: int = 1000
    include_limit: int = 1000
    # Authorization (smart_auth)
    token_lifetime: int = _integer("FHIR_SERVER_TOKEN_LIFETIME", 900)
    refresh_lifetime: int = _integer("FHIR_SERVER_REFRESH_LIFETIME", 30 * 24 * 3600)
    # How long a token revoked by another worker may still work here (smart_auth.revocation)
    revocation_staleness: int = _integer("FHIR_SERVER_REVOCATION_STALENESS", 5)
    admin_token: str | None = _env("FHIR_SERVER_ADMIN_TOKEN")
    outbox: str = _env("FHIR_SERVER_OUTBOX", "outbox.jsonl", blank_is_unset=False)
    otp_lifetime: int = _integer("FHIR_SERVER_OTP_LIFETIME", 15 * 60)
    login_max_failures: int = _integer("FHIR_SERVER_LOGIN_MAX_FAILURES", 5)
    lockout_seconds: int = _integer("FHIR_SERVER_LOCKOUT_SECONDS", 15 * 60)
    reset_max_requests: int = _integer("FHIR_SERVER_RESET_MAX_REQUESTS", 3)
    secret_key: str | None = _env("FHIR_SERVER_SECRET_KEY")
    # External professional identity provider (OpenID Connect); unset issuer = built-in login only
    pro_idp_issuer: str | None = _env("FHIR_SERVER_PRO_IDP_ISSUER")
    pro_idp_client_id: str | None = _env("FHIR_SERVER_PRO_IDP_CLIENT_ID")
    pro_idp_client_secret: str | None = _env("FHIR_SERVER_PRO_IDP_CLIENT_SECRET")
    pro_idp_scope: str = _env("FHIR_SERVER_PRO_IDP_SCOPE", "openid")
    pro_idp_id_claim: str = _env("FHIR_SERVER_PRO_IDP_ID_CLAIM", "sub")
    pro_idp_name: str | None = _env("FHIR_SERVER_PRO_IDP_NAME")
    # Access policy (consent): emergency access (break-glass, centre_15)
    emergency_token_lifetime: int = _integer("FHIR_SERVER_EMERGENCY_TOKEN_LIFETIME", 900)
    emergency_sees_masked: bool = _flag("FHIR_SERVER_EMERGENCY_SEES_MASKED")
    # Bulk import ($import): the directory whose NDJSON files may be named as file:// URLs
    import_dir: str | None = _env("FHIR_SERVER_IMPORT_DIR")
    # The record's life (ingestion.lifecycle): the opt-out window, the archive of a closed record
    opt_out_days: int = _integer("FHIR_SERVER_OPT_OUT_DAYS", 42)
    archive_years: int = _integer("FHIR_SERVER_ARCHIVE_YEARS", 10)
    # Browser apps (CORS): the origins allowed to call the FHIR API and the token endpoints
    cors_origins: tuple[str, ...] | None = _env("FHIR_SERVER_CORS_ORIGINS", None, _origins)
    extra: dict = field(default_factory=dict)

    @property
    def public_root(self) -> str:
        """The server's public root URL (the FHIR base without its /fhir): the token issuer."""
        return self.base_url[: -len("/fhir")] if self.base_url.endswith("/fhir") else self.base_url

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """The settings the environment gives (the declared defaults for what it leaves unset),
        then `overrides` as they are."""
        values = {}
        for setting in fields(cls):
            var = env_var(setting)
            text = os.environ.get(var.name) if var else None
            if text is not None and not (text == "" and var.blank_is_unset):
                values[setting.name] = var.parse(text)
        values.update(overrides)
        return cls(**values)
