"""The accounting software a company can connect, and the authorization link for one of them."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sync2books.models import INTEGRATION_NAMES, AuthUrl, ErrorDetail, Integration, IntegrationKey, Results
from sync2books.sandbox.errors import ApiError
from sync2books.sandbox.routes.dependencies import PartnerDep, StoreDep, base_url, company_or_404

router = APIRouter()


@router.get("/integrations")
async def list_integrations(partner: PartnerDep) -> Results[Integration]:
    return Results[Integration](
        results=[Integration(integration_key=key, name=name) for key, name in INTEGRATION_NAMES.items()]
    )


@router.get("/companies/{company_id}/integrations/{integration_key}/auth-url")
async def auth_url(
    request: Request, partner: PartnerDep, store: StoreDep, company_id: str, integration_key: str
) -> AuthUrl:
    await company_or_404(store, partner, company_id)
    key = _integration_key(integration_key)
    token, expires_at = await store.create_auth_link(company_id, key)
    return AuthUrl(
        company_id=company_id,
        integration_key=key,
        auth_url=f"{base_url(request)}/link/{company_id}/{key.value}?token={token}",
        expires_at=expires_at,
    )


def _integration_key(value: str) -> IntegrationKey:
    try:
        return IntegrationKey(value)
    except ValueError:
        valid = ", ".join(key.value for key in IntegrationKey)
        raise ApiError(
            422,
            "validation_error",
            "Unknown integration",
            [ErrorDetail(field="integrationKey", message=f"must be one of {valid}")],
        ) from None
