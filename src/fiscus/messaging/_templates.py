"""Message templates: built-in defaults per event type and channel, rendered in a sandbox.

Templates are Jinja2 in a `SandboxedEnvironment` (no attribute access to internals, no
imports) with `StrictUndefined`, so a missing variable is an error. Every event type
declares sample variables; a template is rendered against them when it is saved, which
is how a misspelt or missing variable is refused at save time instead of at send time.
HTML bodies are rendered with autoescaping on; text bodies and subjects without.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from fiscus.core.errors import DomainError, ValidationProblem
from fiscus.core.money import currency_exponent
from fiscus.messaging._render import BoundedSandbox, RenderLimits, budget_for, render_within
from fiscus.messaging.errors import TemplateNotOverridable

Channel = Literal["email", "sms", "in_app"]
Category = Literal["security", "transactions", "marketing"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "in_app")
MAX_TEMPLATE_CHARS = 20_000
SMS_MAX_CHARS = 1600


@dataclass(frozen=True, slots=True)
class Body:
    """One channel's template: subject (email, in-app), text, and HTML (email)."""

    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message."""

    subject: str | None
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class EventTemplates:
    """What an event type sends by default, in which category, with which sample data.

    `overridable=False` for events that carry a secret (a reset or confirmation token):
    only the system template may place it, so no tenant admin can route it elsewhere.
    """

    event_type: str
    category: Category
    sample: dict[str, Any]
    bodies: dict[Channel, Body] = field(default_factory=dict)
    overridable: bool = True


def _money(amount: int, currency: str) -> str:
    """`1250, "EUR"` -> `12.50 EUR` (exact: minor units scaled by the ISO 4217 exponent)."""
    exponent = currency_exponent(currency)
    value = (Decimal(amount) / (Decimal(10) ** exponent)).quantize(
        Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN
    )
    return f"{value} {currency}"


def _environment(*, html: bool) -> BoundedSandbox:
    env = BoundedSandbox(html=html)
    env.add_filter("money", _money)
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)

_TRANSFER_SAMPLE: dict[str, Any] = {
    "event": {"id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001", "type": "transfer.posted"},
    "data": {
        "transfer_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00002",
        "status": "posted",
        "currency": "EUR",
        "legs": [],
    },
    "leg": {
        "account_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00003",
        "direction": "credit",
        "amount": 1250,
        "currency": "EUR",
    },
}


def _transfer(event_type: str, verb: str) -> EventTemplates:
    return EventTemplates(
        event_type=event_type,
        category="transactions",
        sample=_TRANSFER_SAMPLE,
        bodies={
            "email": Body(
                subject=f"Transfer {verb}: {{{{ leg.amount | money(leg.currency) }}}}",
                text=(
                    f"A transfer was {verb} on your account {{{{ leg.account_id }}}}:\n"
                    "{{ leg.direction }} of {{ leg.amount | money(leg.currency) }}.\n"
                    "Reference: {{ data.transfer_id }}\n"
                ),
                html=(
                    f"<p>A transfer was {verb} on your account "
                    "<code>{{ leg.account_id }}</code>: {{ leg.direction }} of "
                    "<strong>{{ leg.amount | money(leg.currency) }}</strong>.</p>"
                    "<p>Reference: {{ data.transfer_id }}</p>"
                ),
            ),
            "in_app": Body(
                subject=f"Transfer {verb}",
                text="{{ leg.direction | capitalize }} of {{ leg.amount | money(leg.currency) }}.",
            ),
            "sms": Body(
                text=f"fiscus: transfer {verb}, {{{{ leg.direction }}}} "
                "{{ leg.amount | money(leg.currency) }}."
            ),
        },
    )


_RESET = EventTemplates(
    event_type="user.password_reset_requested",
    category="security",
    overridable=False,
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000002",
            "type": "user.password_reset_requested",
        },
        "data": {
            "user_id": "019a9f0e-0000-7000-8000-000000000003",
            "tenant": "acme",
            "expires_at": "2026-11-22T14:35:00+00:00",
        },
        "secret": {"reset_token": "fsp_sample"},
    },
    bodies={
        "email": Body(
            subject="Reset your fiscus password",
            text=(
                "Someone asked to reset the password of your account at {{ data.tenant }}.\n"
                "If it was you, send this token with your new password to "
                "POST /v1/auth/password-reset/confirm before {{ data.expires_at }}:\n\n"
                "{{ secret.reset_token }}\n\n"
                "If it was not you, ignore this email: your password stays as it is.\n"
            ),
        ),
    },
)


_EMAIL_CHANGE = EventTemplates(
    event_type="user.email_change_requested",
    category="security",
    overridable=False,
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000004",
            "type": "user.email_change_requested",
        },
        "data": {
            "user_id": "019a9f0e-0000-7000-8000-000000000003",
            "change_id": "019a9f0e-0000-7000-8000-000000000005",
            "tenant": "acme",
            "expires_at": "2026-11-22T15:05:00+00:00",
        },
        "secret": {"email_change_token": "fse_sample"},
    },
    bodies={
        "email": Body(
            subject="Confirm your new fiscus email address",
            text=(
                "Someone asked to use this address for their account at {{ data.tenant }}.\n"
                "If it was you, sign in and send this token to POST /v1/me/email/confirm "
                "before {{ data.expires_at }}:\n\n"
                "{{ secret.email_change_token }}\n\n"
                "If it was not you, ignore this email: nothing changes.\n"
            ),
        ),
    },
)

_CODE_SAMPLE_DATA = {
    "user_id": "019a9f0e-0000-7000-8000-000000000003",
    "factor_id": "019a9f0e-0000-7000-8000-000000000007",
    "tenant": "acme",
    "expires_at": "2026-11-22T14:10:00+00:00",
}

_EMAIL_CODE = EventTemplates(
    event_type="user.mfa_email_code_requested",
    category="security",
    overridable=False,
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000008",
            "type": "user.mfa_email_code_requested",
        },
        "data": _CODE_SAMPLE_DATA,
        "secret": {"code": "123456"},
    },
    bodies={
        "email": Body(
            subject="Your fiscus security code",
            text=(
                "Your security code for {{ data.tenant }} is: {{ secret.code }}\n\n"
                "It works once, until {{ data.expires_at }}. Nobody from the bank will ask "
                "you for it. If you did not just sign in or add this address, change your "
                "password.\n"
            ),
        ),
    },
)

_SMS_CODE = EventTemplates(
    event_type="user.mfa_sms_code_requested",
    category="security",
    overridable=False,
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000009",
            "type": "user.mfa_sms_code_requested",
        },
        "data": _CODE_SAMPLE_DATA,
        "secret": {"code": "123456"},
    },
    bodies={
        "sms": Body(
            text="fiscus {{ data.tenant }}: your security code is {{ secret.code }}. "
            "Valid 5 minutes, once. Never share it."
        ),
    },
)

_MFA_RESET = EventTemplates(
    event_type="user.mfa_reset_by_staff",
    category="security",
    overridable=False,
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-00000000000a",
            "type": "user.mfa_reset_by_staff",
        },
        "data": {"user_id": "019a9f0e-0000-7000-8000-000000000003", "tenant": "acme"},
    },
    bodies={
        "email": Body(
            subject="Your fiscus second factors were reset",
            text=(
                "A member of staff at {{ data.tenant }} reset the second factors of your "
                "account (authenticator app, backup codes, email and SMS codes) and signed "
                "you out everywhere.\nSign in with your password and set up a second factor "
                "again. If you did not ask for this, tell your bank at once.\n"
            ),
        ),
        "in_app": Body(
            subject="Second factors reset",
            text="Staff reset your second factors; set one up again.",
        ),
    },
)

_EMAIL_REQUESTED = EventTemplates(
    event_type="user.email_address_requested",
    category="security",
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000006",
            "type": "user.email_address_requested",
        },
        "data": {"user_id": "019a9f0e-0000-7000-8000-000000000003", "tenant": "acme"},
    },
    bodies={
        "email": Body(
            subject="Your fiscus email address was requested",
            text=(
                "Someone signed in at {{ data.tenant }} asked to use this email address for "
                "their account. It already belongs to your account there, so nothing "
                "changed.\nIf you did not expect this, tell your administrator.\n"
            ),
        ),
    },
)


_ALERT = EventTemplates(
    event_type="banking.alert.triggered",
    category="transactions",
    sample={
        "event": {"id": "019a9f0e-0000-7000-8000-000000000001", "type": "banking.alert.triggered"},
        "data": {
            "account_id": "019a9f0e-0000-7000-8000-000000000003",
            "kind": "low_balance",
            "threshold": 10000,
            "amount": -2500,
            "balance": 9000,
            "currency": "EUR",
        },
    },
    bodies={
        "email": Body(
            subject="{% if data.kind == 'low_balance' %}Low balance{% else %}Large transaction"
            "{% endif %} on your account",
            text=(
                "{% if data.kind == 'low_balance' %}The balance of your account"
                " {{ data.account_id }} is {{ data.balance | money(data.currency) }}, below your"
                " alert of {{ data.threshold | money(data.currency) }}."
                "{% else %}A movement of {{ data.amount | abs | money(data.currency) }}"
                " {% if data.amount < 0 %}left{% else %}reached{% endif %} your account"
                " {{ data.account_id }} (alert from {{ data.threshold | money(data.currency) }})."
                "{% endif %}\n"
            ),
            html=(
                "<p>{% if data.kind == 'low_balance' %}The balance of your account"
                " <code>{{ data.account_id }}</code> is"
                " <strong>{{ data.balance | money(data.currency) }}</strong>, below your alert"
                " of {{ data.threshold | money(data.currency) }}."
                "{% else %}A movement of"
                " <strong>{{ data.amount | abs | money(data.currency) }}</strong>"
                " {% if data.amount < 0 %}left{% else %}reached{% endif %} your account"
                " <code>{{ data.account_id }}</code>.{% endif %}</p>"
            ),
        ),
        "in_app": Body(
            subject="{% if data.kind == 'low_balance' %}Low balance{% else %}Large transaction"
            "{% endif %}",
            text="{% if data.kind == 'low_balance' %}Balance"
            " {{ data.balance | money(data.currency) }}{% else %}Movement of"
            " {{ data.amount | abs | money(data.currency) }}{% endif %} on account"
            " {{ data.account_id }}.",
        ),
        "sms": Body(
            text="fiscus: {% if data.kind == 'low_balance' %}balance"
            " {{ data.balance | money(data.currency) }}{% else %}movement of"
            " {{ data.amount | abs | money(data.currency) }}{% endif %} on your account."
        ),
    },
)


_STATEMENT = EventTemplates(
    event_type="banking.statement.ready",
    category="transactions",
    sample={
        "event": {"id": "019a9f0e-0000-7000-8000-000000000001", "type": "banking.statement.ready"},
        "data": {
            "statement_id": "019a9f0e-0000-7000-8000-000000000002",
            "account_id": "019a9f0e-0000-7000-8000-000000000003",
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
            "currency": "EUR",
            "opening": 100000,
            "closing": 270000,
            "download": "/v1/accounts/019a9f0e-0000-7000-8000-000000000003/statement"
            "?from=2026-11-01&to=2026-11-30&format=pdf",
        },
    },
    bodies={
        "email": Body(
            subject="Your statement for {{ data.period_start }} to {{ data.period_end }}",
            text=(
                "Your statement of account {{ data.account_id }} for {{ data.period_start }} to"
                " {{ data.period_end }} is ready: closing balance"
                " {{ data.closing | money(data.currency) }}.\n"
                "Download it (PDF) at {{ data.download }}\n"
            ),
            html=(
                "<p>Your statement of account <code>{{ data.account_id }}</code> for"
                " {{ data.period_start }} to {{ data.period_end }} is ready: closing balance"
                " <strong>{{ data.closing | money(data.currency) }}</strong>.</p>"
                '<p><a href="{{ data.download }}">Download the PDF</a></p>'
            ),
        ),
        "in_app": Body(
            subject="Statement ready",
            text="Your statement for {{ data.period_start }} to {{ data.period_end }} is"
            " ready: {{ data.download }}",
        ),
    },
)


_BUDGET = EventTemplates(
    event_type="banking.budget.threshold_crossed",
    category="transactions",
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000001",
            "type": "banking.budget.threshold_crossed",
        },
        "data": {
            "category": "groceries",
            "month": "2026-12",
            "threshold_percent": 80,
            "budget": 40000,
            "spent": 32400,
            "currency": "EUR",
        },
    },
    bodies={
        "email": Body(
            subject="You have used {{ data.threshold_percent }}% of your {{ data.category }}"
            " budget",
            text=(
                "In {{ data.month }} you have spent {{ data.spent | money(data.currency) }} on"
                " {{ data.category }}, {{ data.threshold_percent }}% or more of your budget of"
                " {{ data.budget | money(data.currency) }}.\n"
            ),
            html=(
                "<p>In {{ data.month }} you have spent"
                " <strong>{{ data.spent | money(data.currency) }}</strong> on"
                " {{ data.category }}, {{ data.threshold_percent }}% or more of your budget of"
                " {{ data.budget | money(data.currency) }}.</p>"
            ),
        ),
        "in_app": Body(
            subject="Budget {{ data.threshold_percent }}% used",
            text="{{ data.spent | money(data.currency) }} of"
            " {{ data.budget | money(data.currency) }} spent on {{ data.category }} in"
            " {{ data.month }}.",
        ),
        "sms": Body(
            text="fiscus: {{ data.threshold_percent }}% of your {{ data.category }} budget used"
            " ({{ data.spent | money(data.currency) }})."
        ),
    },
)


_STANDING_ORDER_FAILED = EventTemplates(
    event_type="banking.standing_order.failed",
    category="transactions",
    sample={
        "event": {
            "id": "019a9f0e-0000-7000-8000-000000000001",
            "type": "banking.standing_order.failed",
        },
        "data": {
            "standing_order_id": "019a9f0e-0000-7000-8000-000000000002",
            "from_account_id": "019a9f0e-0000-7000-8000-000000000003",
            "amount": 85000,
            "currency": "EUR",
            "due_date": "2027-01-31",
            "error": "insufficient-funds",
            "attempts": 3,
        },
    },
    bodies={
        "email": Body(
            subject="A standing order could not be paid",
            text=(
                "Your standing order {{ data.standing_order_id }} of"
                " {{ data.amount | money(data.currency) }} from account"
                " {{ data.from_account_id }} due on {{ data.due_date }} was not paid after"
                " {{ data.attempts }} attempts ({{ data.error }}). The next occurrence will be"
                " tried as planned.\n"
            ),
        ),
        "in_app": Body(
            subject="Standing order not paid",
            text="{{ data.amount | money(data.currency) }} due on {{ data.due_date }} from"
            " account {{ data.from_account_id }} was not paid ({{ data.error }}).",
        ),
        "sms": Body(
            text="fiscus: a standing order of {{ data.amount | money(data.currency) }} due"
            " {{ data.due_date }} was not paid ({{ data.error }})."
        ),
    },
)


DEFAULTS: dict[str, EventTemplates] = {
    t.event_type: t
    for t in (
        _RESET,
        _EMAIL_CHANGE,
        _EMAIL_REQUESTED,
        _EMAIL_CODE,
        _SMS_CODE,
        _MFA_RESET,
        _ALERT,
        _STANDING_ORDER_FAILED,
        _STATEMENT,
        _BUDGET,
        _transfer("transfer.posted", "posted"),
        _transfer("transfer.voided", "voided"),
        _transfer("transfer.reversed", "reversed"),
        EventTemplates(
            event_type="webhook.endpoint_disabled",
            category="security",
            sample={
                "event": {"id": "019a9f0e-0000-7000-8000-000000000001", "type": "x.y"},
                "data": {
                    "endpoint_id": "019a9f0e-0000-7000-8000-000000000002",
                    "url": "https://hooks.example.com/fiscus",
                    "reason": "the endpoint answered 410 Gone",
                },
            },
            bodies={
                "email": Body(
                    subject="Webhook endpoint disabled",
                    text="The webhook endpoint {{ data.url }} was disabled: {{ data.reason }}.",
                    html="<p>The webhook endpoint <code>{{ data.url }}</code> was disabled: "
                    "{{ data.reason }}.</p>",
                ),
                "in_app": Body(
                    subject="Webhook endpoint disabled",
                    text="{{ data.url }} was disabled: {{ data.reason }}.",
                ),
            },
        ),
        EventTemplates(
            event_type="announcement.published",
            category="transactions",
            sample={
                "event": {"id": "019a9f0e-0000-7000-8000-000000000001", "type": "x.y"},
                "data": {"title": "Maintenance", "body": "Saturday 02:00-03:00 UTC."},
            },
            bodies={"in_app": Body(subject="{{ data.title }}", text="{{ data.body }}")},
        ),
        EventTemplates(
            event_type="marketing.campaign_sent",
            category="marketing",
            sample={
                "event": {"id": "019a9f0e-0000-7000-8000-000000000001", "type": "x.y"},
                "data": {"subject": "New savings rates", "body": "Our rates went up."},
            },
            bodies={
                "email": Body(
                    subject="{{ data.subject }}",
                    text="{{ data.body }}",
                    html="<p>{{ data.body }}</p>",
                ),
                "in_app": Body(subject="{{ data.subject }}", text="{{ data.body }}"),
            },
        ),
    )
}


def render(body: Body, variables: dict[str, Any], *, limits: RenderLimits) -> Rendered:
    """Render a body within `limits` (TemplateOutputTooLarge, TemplateRenderTooSlow); any
    other exception (jinja2.TemplateError and the like) means the template is broken."""
    budget = budget_for(limits)
    subject = render_within(_TEXT, body.subject, variables, budget) if body.subject else None
    text = render_within(_TEXT, body.text, variables, budget)
    html = render_within(_HTML, body.html, variables, budget) if body.html else None
    return Rendered(subject=subject.strip() if subject else None, text=text, html=html)


def template_check_overridable(event_type: str) -> None:
    """Refuse a tenant's template for an event type whose messages carry a secret."""
    spec = DEFAULTS.get(event_type)
    if spec is not None and not spec.overridable:
        raise TemplateNotOverridable(
            f"Messages for {event_type!r} carry a secret; only the system template is used."
        )


def template_check(
    event_type: str, channel: Channel, body: Body, *, limits: RenderLimits
) -> Rendered:
    """Render a template against its event type's sample data; refuse it if that fails."""
    spec = DEFAULTS.get(event_type)
    if spec is None:
        raise ValidationProblem(f"No messages are sent for {event_type!r}.", field="event_type")
    for name, value in (("subject", body.subject), ("text", body.text), ("html", body.html)):
        if value is not None and len(value) > MAX_TEMPLATE_CHARS:
            raise ValidationProblem(f"The {name} is too long.", field=name)
    if channel == "email" and not body.subject:
        raise ValidationProblem("Email templates need a subject.", field="subject")
    try:
        return render(body, spec.sample, limits=limits)
    except DomainError:
        raise
    except Exception as error:  # a tenant's template can fail in any way Python can
        raise ValidationProblem(f"The template does not render: {error}", field="text") from None
