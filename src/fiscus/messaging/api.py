"""Messaging routes: the caller's inbox and preferences, templates, announcements, admin view."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep, KeyRingDep, SettingsDep
from fiscus.messaging import queries, service
from fiscus.messaging._sealing import MessageView
from fiscus.messaging._templates import Body
from fiscus.messaging.schemas import (
    AnnouncementCreate,
    AnnouncementQueued,
    ChannelName,
    InboxMessage,
    InboxPage,
    MessagePage,
    MessageRead,
    Preferences,
    PreferenceUpdate,
    ProfileUpdate,
    RenderedMessage,
    TemplateBody,
    TemplatePreviewRequest,
)

router = APIRouter(tags=["messaging"])
Me = Annotated[Context, authorized("self:read")]
MeManage = Annotated[Context, authorized("self:manage")]


def _inbox(message: MessageView) -> InboxMessage:
    return InboxMessage(
        id=message.id,
        event_type=message.event_type,
        category=message.category,
        subject=message.subject,
        body=message.body,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
    )


@router.get(
    "/v1/me/messages",
    summary="My in-app messages",
    response_model=InboxPage,
    responses=problem_responses(400, 401, 403),
)
async def my_messages(
    ctx: Me,
    db: DatabaseDep,
    keyring: KeyRingDep,
    unread: Annotated[bool, Query(description="Only messages not read yet")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> InboxPage:
    """The caller's in-app messages (and announcements), newest first."""
    rows, next_cursor = await queries.inbox_list(
        db, ctx, keyring=keyring, unread_only=unread, cursor=cursor, limit=limit
    )
    return InboxPage(data=[_inbox(m) for m in rows], next_cursor=next_cursor)


@router.post(
    "/v1/me/messages/{message_id}/read",
    summary="Mark one of my messages as read (read receipt)",
    response_model=InboxMessage,
    responses=problem_responses(401, 403, 404),
)
async def read_message(
    message_id: uuid.UUID, ctx: MeManage, db: DatabaseDep, keyring: KeyRingDep
) -> InboxMessage:
    """Record the read receipt; reading twice keeps the first time."""
    return _inbox(await service.message_mark_read(db, ctx, keyring=keyring, message_id=message_id))


@router.get(
    "/v1/me/message-preferences",
    summary="My channels per category",
    response_model=Preferences,
    responses=problem_responses(401, 403),
)
async def my_preferences(ctx: Me, db: DatabaseDep) -> Preferences:
    """Security is always every channel; marketing is off until opted in."""
    return Preferences.model_validate(await queries.preferences_get(db, ctx))


@router.put(
    "/v1/me/message-preferences",
    summary="Choose my channels for a category",
    response_model=Preferences,
    responses=problem_responses(400, 401, 403),
)
async def set_preference(body: PreferenceUpdate, ctx: MeManage, db: DatabaseDep) -> Preferences:
    """Set the channels of `transactions` or `marketing` (an empty list switches it off)."""
    await service.preferences_set(db, ctx, category=body.category, channels=body.channels)
    return Preferences.model_validate(await queries.preferences_get(db, ctx))


@router.put(
    "/v1/me/message-profile",
    status_code=204,
    summary="Set my SMS number, time zone and quiet hours",
    responses=problem_responses(400, 401, 403),
)
async def set_profile(
    body: ProfileUpdate, ctx: MeManage, db: DatabaseDep, keyring: KeyRingDep
) -> Response:
    """Email and SMS (except security) wait until quiet hours end."""
    await service.profile_set(
        db,
        ctx,
        keyring=keyring,
        phone=body.phone,
        timezone=body.timezone,
        quiet_start=body.quiet_start,
        quiet_end=body.quiet_end,
    )
    return Response(status_code=204)


@router.put(
    "/v1/message-templates/{event_type}/{channel}",
    summary="Override a message template for this tenant",
    response_model=RenderedMessage,
    responses=problem_responses(400, 401, 403),
)
async def save_template(
    event_type: str,
    channel: ChannelName,
    body: TemplateBody,
    ctx: Annotated[Context, authorized("templates:manage")],
    db: DatabaseDep,
    settings: SettingsDep,
) -> RenderedMessage:
    """Saved only if it renders with the event type's sample data within the template
    limits; returns that rendering."""
    rendered = await service.template_save(
        db,
        ctx,
        event_type=event_type,
        channel=channel,
        body=Body(text=body.text, subject=body.subject, html=body.html),
        limits=service.RenderLimits.of(settings),
    )
    return RenderedMessage(subject=rendered.subject, text=rendered.text, html=rendered.html)


@router.post(
    "/v1/message-templates/preview",
    summary="Render a template with sample data",
    response_model=RenderedMessage,
    responses=problem_responses(400, 401, 403),
)
async def preview_template(
    body: TemplatePreviewRequest,
    ctx: Annotated[Context, authorized("templates:manage")],
    settings: SettingsDep,
) -> RenderedMessage:
    """Nothing is saved; a missing variable is a 400 naming it, and so is a template over
    the limits (`template-output-too-large`, `template-render-too-slow`)."""
    rendered = service.template_preview(
        event_type=body.event_type,
        channel=body.channel,
        body=Body(text=body.text, subject=body.subject, html=body.html),
        limits=service.RenderLimits.of(settings),
    )
    return RenderedMessage(subject=rendered.subject, text=rendered.text, html=rendered.html)


@router.post(
    "/v1/announcements",
    status_code=202,
    summary="Announce to every member (or some roles) in-app",
    response_model=AnnouncementQueued,
    responses=problem_responses(400, 401, 403),
)
async def announce(
    body: AnnouncementCreate,
    request: Request,
    ctx: Annotated[Context, authorized("messages:send")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Emits `announcement.published`; each member gets an in-app message."""

    async def handler() -> Response:
        event_id = await service.announcement_publish(
            db, ctx, title=body.title, body=body.body, roles=body.roles
        )
        return model_response(AnnouncementQueued(event_id=event_id), status_code=202)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/v1/messages",
    summary="Every message with its status history (administrators)",
    response_model=MessagePage,
    responses=problem_responses(400, 401, 403),
)
async def list_messages(
    ctx: Annotated[Context, authorized("messages:read_all")],
    db: DatabaseDep,
    keyring: KeyRingDep,
    user_id: uuid.UUID | None = None,
    status: Literal["queued", "sent", "delivered", "failed", "read"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MessagePage:
    """Newest first; filter by user or status."""
    rows, next_cursor = await queries.messages_list(
        db, ctx, keyring=keyring, user_id=user_id, status=status, cursor=cursor, limit=limit
    )
    return MessagePage(
        data=[MessageRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/v1/messaging/unsubscribe",
    status_code=204,
    summary="One-click unsubscribe from marketing (RFC 8058)",
    responses=problem_responses(400),
)
async def unsubscribe(
    token: Annotated[str, Query(max_length=512)],
    db: DatabaseDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
) -> Response:
    """The `List-Unsubscribe` link of a marketing email; the signed token is the credential."""
    await service.marketing_unsubscribe(
        db, keyring=keyring, token=token, legacy_roots=settings.root_secrets
    )
    return Response(status_code=204)
