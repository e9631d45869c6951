"""/api/admin/scaling/configs: the auto-scaling configurations (auto_scaling_config), versioned.

Viewers read; operators create, change, delete and restore configurations. A configuration
is validated by the scaling model itself (perf.scaling.store.service_from_row builds the
ScalingConfig the controller would run), so what the controller would refuse is a 422
problem here. The controller reads its row every cycle: a committed change is what its next
cycle runs. The manual pin and the leader lease are the controller's, not configuration:
they are shown, never written, here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table

from banrimkwae.perf.admin.config_router import aware
from banrimkwae.perf.admin.versioned import VersionedResource
from banrimkwae.perf.admin.versioned_router import ResourceApi, versioned_router
from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.scaling.model import ScalingConfigError
from banrimkwae.perf.scaling.store import service_from_row
from banrimkwae.perf.storage import AutoScalingConfig

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

KIND = "scaling_config"
PolicyName = Literal["threshold", "hpa", "slo"]


class ScalingConfigFields(BaseModel):
    """A configuration as written: every field, with the table's defaults."""

    model_config = ConfigDict(extra="forbid")

    service_name: str = Field(min_length=1, max_length=100)
    min_instances: int = Field(default=2, ge=1, le=10_000)
    max_instances: int = Field(default=20, ge=1, le=10_000)
    target_cpu_percent: float = Field(default=70.0, gt=0, le=100)
    target_memory_percent: float = Field(default=80.0, gt=0, le=100)
    target_response_time_ms: int = Field(default=200, ge=1, le=600_000)
    scale_up_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    scale_down_cooldown_seconds: int = Field(default=600, ge=0, le=86_400)
    scale_up_threshold_count: int = Field(default=2, ge=1, le=1000)
    scale_down_threshold_count: int = Field(default=3, ge=1, le=1000)
    is_enabled: bool = True
    policy: PolicyName = "slo"
    capacity_rps: float = Field(
        default=0.0, ge=0, le=99_999_999, description="Req/s one instance serves; 0: estimate."
    )


class ScalingConfigChange(BaseModel):
    """A partial change: only the fields given are changed (none may be null)."""

    model_config = ConfigDict(extra="forbid")

    service_name: str | None = Field(default=None, min_length=1, max_length=100)
    min_instances: int | None = Field(default=None, ge=1, le=10_000)
    max_instances: int | None = Field(default=None, ge=1, le=10_000)
    target_cpu_percent: float | None = Field(default=None, gt=0, le=100)
    target_memory_percent: float | None = Field(default=None, gt=0, le=100)
    target_response_time_ms: int | None = Field(default=None, ge=1, le=600_000)
    scale_up_cooldown_seconds: int | None = Field(default=None, ge=0, le=86_400)
    scale_down_cooldown_seconds: int | None = Field(default=None, ge=0, le=86_400)
    scale_up_threshold_count: int | None = Field(default=None, ge=1, le=1000)
    scale_down_threshold_count: int | None = Field(default=None, ge=1, le=1000)
    is_enabled: bool | None = None
    policy: PolicyName | None = None
    capacity_rps: float | None = Field(default=None, ge=0, le=99_999_999)


class ScalingConfigOut(BaseModel):
    """A configuration as stored (unconstrained: a row edited in SQL is shown as it is)."""

    id: int
    service_name: str
    min_instances: int
    max_instances: int
    target_cpu_percent: float
    target_memory_percent: float
    target_response_time_ms: int
    scale_up_cooldown_seconds: int
    scale_down_cooldown_seconds: int
    scale_up_threshold_count: int
    scale_down_threshold_count: int
    is_enabled: bool
    policy: str
    capacity_rps: float
    version: int = Field(description="The newest stored version; 0 before the first change.")
    pinned_instances: int | None = Field(description="A manual pin held until pinned_until.")
    pinned_until: dt.datetime | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


FIELDS = tuple(ScalingConfigFields.model_fields)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _checked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body validated as the controller would load it; a 422 problem otherwise."""
    try:
        service_from_row(SimpleNamespace(**body, pinned_instances=None, pinned_until=None))
    except (ScalingConfigError, TypeError, ValueError) as exc:
        raise ProblemError(422, str(exc), title="Invalid scaling configuration") from None
    return dict(body)


SCALING_CONFIGS = VersionedResource(
    kind=KIND,
    noun="scaling configuration",
    table=cast(Table, AutoScalingConfig.__table__),
    fields=FIELDS,
    nullable=frozenset(),
    check=_checked,
    unique_field="service_name",
    unique_noun="configuration",
    unique_label="service",
    plain=_plain,
)


def _pin(row: Mapping[str, Any]) -> dict[str, Any]:
    """The manual pin, shown with the configuration but changed through its own endpoint."""
    return {
        "pinned_instances": row["pinned_instances"],
        "pinned_until": aware(row["pinned_until"]),
    }


SCALING_CONFIGS_API = ResourceApi(
    resource=SCALING_CONFIGS,
    prefix="/api/admin/scaling",
    collection="/configs",
    tag="scaling",
    id_name="config_id",
    singular="config",
    plural="configs",
    fields_model=ScalingConfigFields,
    change_model=ScalingConfigChange,
    out_model=ScalingConfigOut,
    extra=_pin,
)


def scaling_admin_router(platform: Platform) -> APIRouter:
    return versioned_router(platform, SCALING_CONFIGS_API)
