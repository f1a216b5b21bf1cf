"""Webhooks: `/webhooks` (consortium admins only), audited.

The signing secret is answered once, by the create and rotate routes, and never again.
Deliveries are the webhook's log: each with its attempts and their response codes; one can be
sent again (`redelivery`), and a test event queued at once (`test`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.pagination import Page, page
from app.models.webhook import (
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.services import webhooks as service
from app.web.deps import CurrentUser, IdPath, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import webhooks as views

router = APIRouter(route_class=SharedRoute, prefix="/webhooks", tags=["webhooks"])
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 413, 422)
saved = shared("webhooks/detail.html", block="detail", event="webhook-saved", context=views.detail)
queued = shared(
    "webhooks/delivery.html",
    block="delivery",
    event="webhook-queued",
    context=views.delivery,
    push=False,  # the result shows where the button was
)


def load_webhook(webhook_id: IdPath, session: SessionDep, user: CurrentUser) -> Webhook:
    return service.get_webhook(session=session, actor=user, webhook_id=webhook_id)


WebhookDep = Annotated[Webhook, Depends(load_webhook)]


def load_delivery(
    delivery_id: IdPath, webhook: WebhookDep, session: SessionDep, user: CurrentUser
) -> WebhookDelivery:
    return service.get_delivery(
        session=session, actor=user, webhook=webhook, delivery_id=delivery_id
    )


DeliveryDep = Annotated[WebhookDelivery, Depends(load_delivery)]


@router.get("", response_model=Page[WebhookPublic], responses=READ)
@shared("webhooks/list.html", block="results", context=views.listing)
def list_webhooks(
    session: SessionDep, user: CurrentUser, request: Request, response: Response, paging: Paging
):
    window = service.list_webhooks(session=session, actor=user, page=paging)
    return page(window, paging, request, response)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=WebhookWithSecret, responses=WRITE
)
@saved
def create_webhook(data: WebhookCreate, session: SessionDep, user: CurrentUser, response: Response):
    """The answer holds `secret` (to check signatures): store it now, it is never shown again."""
    webhook = service.create_webhook(session=session, actor=user, data=data)
    response.headers["Location"] = f"/webhooks/{webhook.id}"
    response.headers["Cache-Control"] = "no-store"
    return WebhookWithSecret(**service.public(webhook).model_dump(), secret=webhook.secret)


@router.get("/{webhook_id}", response_model=WebhookPublic, responses=READ)
@shared("webhooks/detail.html", block="detail", context=views.detail)
def get_webhook(webhook: WebhookDep):
    return service.public(webhook)


@router.patch("/{webhook_id}", response_model=WebhookPublic, responses=WRITE)
@saved
def update_webhook(
    data: WebhookUpdate, webhook: WebhookDep, session: SessionDep, user: CurrentUser
):
    webhook = service.update_webhook(session=session, actor=user, webhook=webhook, data=data)
    return service.public(webhook)


@router.post("/{webhook_id}/rotation", response_model=WebhookWithSecret, responses=WRITE)
@saved
def rotate_webhook_secret(
    webhook: WebhookDep, session: SessionDep, user: CurrentUser, response: Response
):
    """A new `secret`, shown once and in force at once."""
    secret = service.rotate_secret(session=session, actor=user, webhook=webhook)
    response.headers["Cache-Control"] = "no-store"
    return WebhookWithSecret(**service.public(webhook).model_dump(), secret=secret)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
def delete_webhook(webhook: WebhookDep, session: SessionDep, user: CurrentUser):
    """Deletes the webhook with its deliveries; the audit trail keeps that it existed."""
    service.delete_webhook(session=session, actor=user, webhook=webhook)
    return Response(status_code=204, headers={"HX-Redirect": "/webhooks"})


@router.get("/{webhook_id}/deliveries", response_model=Page[WebhookDeliveryPublic], responses=READ)
@shared("webhooks/deliveries.html", block="results", context=views.deliveries)
def list_webhook_deliveries(
    webhook: WebhookDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Newest first, each with its attempts and their response codes."""
    window = service.list_deliveries(session=session, actor=user, webhook=webhook, page=paging)
    return page(window, paging, request, response)


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}", response_model=WebhookDeliveryPublic, responses=READ
)
@shared("webhooks/delivery.html", block="delivery", context=views.delivery)
def get_webhook_delivery(row: DeliveryDep, webhook: WebhookDep, session: SessionDep):
    return service.delivery_public(session, row)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redelivery",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryPublic,
    responses=WRITE,
)
@queued
def redeliver_webhook_delivery(
    row: DeliveryDep, webhook: WebhookDep, session: SessionDep, user: CurrentUser
):
    """Sends the delivery again, at once, with the same `webhook-id`."""
    row = service.redeliver(session=session, actor=user, webhook=webhook, row=row)
    return service.delivery_public(session, row)


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryPublic,
    responses=WRITE,
)
@queued
def send_webhook_test(
    webhook: WebhookDep, session: SessionDep, user: CurrentUser, response: Response
):
    """Queues a `webhook.test` event for this webhook, due at once."""
    row = service.send_test(session=session, actor=user, webhook=webhook)
    response.headers["Location"] = f"/webhooks/{webhook.id}/deliveries/{row.id}"
    return service.delivery_public(session, row)
