"""Messaging use cases: fan events out to messages, templates, preferences, read receipts.

A package of private parts (STYLE rule 2), re-exported here: `_fan_out` (the relay
subscriber), `_choices` (templates, preferences, profile), `_inbox` (read receipts,
announcements, unsubscribe).
"""

from fiscus.messaging._render import RenderLimits
from fiscus.messaging.service._choices import (
    caller_id,
    preferences_set,
    profile_set,
    template_preview,
    template_save,
)
from fiscus.messaging.service._fan_out import (
    DEFAULT_CHANNELS,
    Audience,
    channels_for,
    messages_fan_out,
    status_change,
)
from fiscus.messaging.service._inbox import (
    announcement_publish,
    marketing_unsubscribe,
    message_mark_read,
    messages_purge,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "Audience",
    "RenderLimits",
    "announcement_publish",
    "caller_id",
    "channels_for",
    "marketing_unsubscribe",
    "message_mark_read",
    "messages_fan_out",
    "messages_purge",
    "preferences_set",
    "profile_set",
    "status_change",
    "template_preview",
    "template_save",
]
