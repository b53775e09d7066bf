"""The identity module's business operations (writes)."""

from fiscus.identity.service._api_keys import API_KEY_PREFIX, api_key_create, api_key_revoke
from fiscus.identity.service._login import Client, auth_login, auth_mfa_verify
from fiscus.identity.service._mfa import (
    backup_codes_regenerate,
    totp_disable,
    totp_enroll_confirm,
    totp_enroll_start,
    totp_matching_step,
)
from fiscus.identity.service._reset import (
    RESET_EVENT,
    password_reset_confirm,
    password_reset_request,
    reset_token_unseal,
)
from fiscus.identity.service._sessions import (
    REFRESH_PREFIX,
    session_end,
    session_open,
    session_refresh,
    sessions_end_others,
    sessions_revoke,
)
from fiscus.identity.service._users import (
    email_change,
    normalise_email,
    password_change,
    reauthenticate,
    user_add,
    user_provision,
    user_update,
)

__all__ = [
    "API_KEY_PREFIX",
    "REFRESH_PREFIX",
    "RESET_EVENT",
    "Client",
    "api_key_create",
    "api_key_revoke",
    "auth_login",
    "auth_mfa_verify",
    "backup_codes_regenerate",
    "email_change",
    "normalise_email",
    "password_change",
    "password_reset_confirm",
    "password_reset_request",
    "reauthenticate",
    "reset_token_unseal",
    "session_end",
    "session_open",
    "session_refresh",
    "sessions_end_others",
    "sessions_revoke",
    "totp_disable",
    "totp_enroll_confirm",
    "totp_enroll_start",
    "totp_matching_step",
    "user_add",
    "user_provision",
    "user_update",
]
