"""Settings: one pydantic-settings model, environment (BANRIMKWAE_*) over an optional TOML file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./banrimkwae.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg", "mysql+asyncmy")
ENV_PREFIX = "BANRIMKWAE_"


class SettingsError(Exception):
    """A setting is invalid; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    redis_url: str | None = None

    # Pools (every engine alike) and read replicas (perf.db.replicas); replicas need
    # PostgreSQL or MariaDB. Reads go to replicas chosen by `replica_algorithm`.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_pool_max_overflow: int = Field(default=10, ge=0, le=1000)
    database_pool_timeout: float = Field(default=30.0, gt=0, le=600)
    database_pool_recycle: float = Field(default=1800.0, ge=-1)
    database_pool_pre_ping: bool = True
    database_pool_use_lifo: bool = False
    database_replica_urls: list[str] = Field(default_factory=list)
    replica_algorithm: Literal["round_robin", "weighted", "least_outstanding", "p2c_peak_ewma"] = (
        "p2c_peak_ewma"
    )
    replica_weights: list[int] = Field(default_factory=list)
    replica_max_lag_seconds: float = Field(default=5.0, gt=0)
    replica_check_interval: float = Field(default=1.0, gt=0, le=600)
    replica_read_your_writes_seconds: float = Field(default=5.0, ge=0)
    replica_panic_threshold: float = Field(default=0.0, ge=0, le=1)
    # Bookings sharded by property (perf.db.sharding): `name=url,...` or a JSON object; empty
    # keeps them in the one database. The directory is cached `shard_cache_seconds`.
    database_shards: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    shard_cache_seconds: float = Field(default=2.0, ge=0, le=60)

    # One switch for the whole performance platform: off gives the "naive" baseline app.
    platform_enabled: bool = True

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # Signs guest and staff bearer tokens. Unset: a random secret kept in `secret_file`,
    # so that every worker of one installation agrees on it.
    token_secret: SecretStr | None = None
    secret_file: Path = Path(".banrimkwae-secret")
    token_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 86400)
    # The platform's endpoints take API keys (`banrimkwae apikey`); a staff bearer token
    # counts as this role there ("none": staff tokens are no credential for them).
    staff_token_platform_role: Literal["none", "viewer"] = "viewer"

    # Monitoring (perf.metrics, perf.queries): aggregated in memory, flushed in batches.
    metrics_flush_interval: float = Field(default=10.0, gt=0, le=3600)
    metrics_buffer_size: int = Field(default=10_000, ge=100, le=10_000_000)
    metrics_sample_rate: float = Field(default=0.01, ge=0, le=1)
    slow_request_ms: float = Field(default=500.0, gt=0)
    slow_query_ms: float = Field(default=100.0, gt=0)
    n_plus_one_threshold: int = Field(default=10, ge=2)
    n_plus_one_strict: bool = False
    resource_sample_interval: float = Field(default=5.0, gt=0, le=3600)
    metrics_raw_retention_days: int = Field(default=7, ge=1, le=3650)
    metrics_rollup_retention_days: int = Field(default=90, ge=1, le=3650)
    metrics_public: bool = False

    # Negotiated br/zstd/gzip for responses of at least this many bytes, plus ETags and 304s.
    compression_enabled: bool = True
    compression_min_size: int = Field(default=256, ge=0, le=16 * 1024 * 1024)

    # Response cache (perf.cache): L1 in each process, plus Redis as L2 when redis_url is set.
    cache_enabled: bool = True
    cache_l1_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    cache_tag_file: str | None = None

    seed: int = 20261127
    partition_retention_months: int = Field(default=13, ge=1, le=120)
    partition_months_ahead: int = Field(default=3, ge=1, le=36)

    # Verified changes (perf.recommend): a change applied from a recommendation is measured
    # again this long after it was applied, and rolled back when its metric got worse by more
    # than the tolerance (0.1 = 10 %); the verifier looks for due ones every interval.
    recommendation_verify_seconds: float = Field(default=900.0, gt=0, le=30 * 86400)
    recommendation_tolerance: float = Field(default=0.1, ge=0, le=10)
    recommendation_verify_interval: float = Field(default=60.0, gt=0, le=86400)

    # Auto-scaling controller (perf.scaling): where `banrimkwae autoscale run` scales, and its
    # leader lock ("auto": Redis when redis_url is set, else the database row).
    autoscale_orchestrator: Literal["uvicorn", "kubernetes", "dry-run"] = "uvicorn"
    autoscale_leader_lock: Literal["auto", "redis", "database"] = "auto"
    autoscale_kubernetes_namespace: str | None = None
    autoscale_kubernetes_deployment: str = "banrimkwae-api"
    autoscale_kubernetes_kubeconfig: Path | None = None
    autoscale_kubernetes_context: str | None = None
    autoscale_kubernetes_verify_timeout: float = Field(default=300.0, gt=0, le=3600)

    # Alerts (perf.alerts): rules evaluated every `alert_evaluation_interval` seconds; each
    # firing and resolution posted to every webhook URL (comma-separated), with retries.
    alert_evaluation_interval: float = Field(default=30.0, gt=0, le=3600)
    alert_webhooks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_webhook_attempts: int = Field(default=4, ge=1, le=20)
    alert_webhook_backoff: float = Field(default=1.0, ge=0, le=600)
    alert_webhook_timeout: float = Field(default=5.0, gt=0, le=120)

    @field_validator("alert_webhooks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("alert_webhooks")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook {url!r} is not an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        driver = value.split("://", 1)[0]
        if driver not in SUPPORTED_DRIVERS:
            raise ValueError(f"driver {driver!r} is not one of {', '.join(SUPPORTED_DRIVERS)}")
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _known_replica_drivers(cls, value: list[str]) -> list[str]:
        for url in value:
            cls._known_driver(url)
        return value

    @field_validator("database_shards", mode="before")
    @classmethod
    def _parse_shards(cls, value: object) -> dict[str, str]:
        from banrimkwae.perf.db.sharding.settings import parse_shards

        shards = parse_shards(value)  # type: ignore[arg-type]
        for url in shards.values():
            cls._known_driver(url)
        return shards

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def dialect(self) -> str:
        return self.database_url.split("+", 1)[0].split("://", 1)[0]

    def resolved_token_secret(self) -> str:
        if self.token_secret is not None:
            return self.token_secret.get_secret_value()
        if self.secret_file.exists():
            return self.secret_file.read_text().strip()
        secret = secrets.token_urlsafe(48)
        # O_EXCL: two workers starting together must not write two different secrets.
        try:
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.secret_file.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        return secret

    def masked(self) -> dict[str, object]:
        """The effective settings with secrets and URL passwords hidden."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr) or (name == "token_secret" and value is not None):
                shown[name] = "**********"
            elif isinstance(value, str) and "://" in value:
                shown[name] = _mask_url(value)
            elif name in ("database_replica_urls", "alert_webhooks"):
                shown[name] = [_mask_url(url) for url in value]
            elif isinstance(value, Path):
                shown[name] = str(value)
            else:
                shown[name] = value
        return shown


def _mask_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if "@" not in rest:
        return url
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:****@{host}" if ":" in credentials else url


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or "settings"
        env_name = f"{ENV_PREFIX}{location.upper()}"
        raise SettingsError(f"invalid setting {env_name}: {error['msg']}") from None
