"""A partner's webhook subscriptions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from sync2books import wire
from sync2books.models import WebhookEventType, WebhookSubscription, WebhookSubscriptionCreate
from sync2books.sandbox.errors import ApiError, JSONResponse
from sync2books.sandbox.routes.dependencies import PartnerDep, StoreDep, json_object, validated

router = APIRouter()


@router.post("/webhooks", status_code=201)
async def subscribe(request: Request, partner: PartnerDep, store: StoreDep) -> WebhookSubscription:
    body = validated(WebhookSubscriptionCreate.model_validate, await json_object(request))
    events = list(dict.fromkeys(body.events)) if body.events else list(WebhookEventType)
    row = await store.create_subscription(partner, body.url, events)
    return row.model(with_secret=True)


@router.get("/webhooks")
async def list_subscriptions(partner: PartnerDep, store: StoreDep) -> Response:
    rows = await store.list_subscriptions(partner)
    # Without secrets, not even as null: the secret is shown once, in the answer to POST.
    return JSONResponse({"results": [wire.to_data(row.model(), exclude_none=True) for row in rows]})


@router.delete("/webhooks/{subscription_id}", status_code=204)
async def unsubscribe(partner: PartnerDep, store: StoreDep, subscription_id: str) -> Response:
    if not await store.delete_subscription(partner, subscription_id):
        raise ApiError(404, "not_found", f"No webhook subscription {subscription_id}")
    return Response(status_code=204)
