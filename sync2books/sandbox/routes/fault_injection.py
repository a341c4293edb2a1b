"""The sandbox's own endpoints, not the contract's: fault and delay settings, and forcing a connection's status.

Included only when the sandbox runs with fault injection on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from sync2books.models import (
    Connection,
    ConnectionErrorInfo,
    ConnectionStatus,
    ErrorDetail,
    SandboxConnectionStatus,
    SandboxSettings,
    SandboxSettingsUpdate,
    field_path,
)
from sync2books.sandbox.errors import ApiError
from sync2books.sandbox.routes.dependencies import (
    PartnerDep,
    ProcessorDep,
    SettingsDep,
    StoreDep,
    connection_or_404,
    json_object,
    validated,
)

router = APIRouter()


@router.get("/sandbox/settings")
async def read_settings(partner: PartnerDep, settings: SettingsDep) -> SandboxSettings:
    return settings


@router.put("/sandbox/settings")
async def write_settings(
    request: Request, partner: PartnerDep, settings: SettingsDep, processor: ProcessorDep
) -> SandboxSettings:
    update = validated(SandboxSettingsUpdate.model_validate, await json_object(request))
    changes = update.model_dump(exclude_unset=True)
    cleared = [name for name, value in changes.items() if value is None and name != "rate_limit_per_minute"]
    if cleared:
        details = [ErrorDetail(field=field_path((_camel(name),)), message="must not be null") for name in cleared]
        raise ApiError(422, "validation_error", "The settings are not valid", details)
    for name, value in changes.items():
        setattr(settings, name, value)
    processor.wake()
    return settings


@router.post("/sandbox/connections/{connection_id}/status")
async def switch_connection(request: Request, partner: PartnerDep, store: StoreDep, connection_id: str) -> Connection:
    connection = await connection_or_404(store, partner, connection_id)
    switch = validated(SandboxConnectionStatus.model_validate, await json_object(request))
    error = None
    if switch.status == ConnectionStatus.ERROR:
        error = ConnectionErrorInfo(
            code="token_expired",
            message=f"The {connection.platform_name} access token expired; the customer must authorize again",
        )
    return await store.set_connection_status(connection.id, switch.status, error)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
