"""The identity module's business operations (writes)."""

from fiscus.identity.service._api_keys import API_KEY_PREFIX, api_key_create, api_key_revoke
from fiscus.identity.service._email import (
    EMAIL_CHANGE_EVENT,
    EMAIL_REQUESTED_EVENT,
    email_change_confirm,
    email_change_request,
    email_change_token_unseal,
)
from fiscus.identity.service._guard import LOCKED_OUT_EVENT, Client
from fiscus.identity.service._login import MFA_PREFIX, auth_login, auth_mfa_verify
from fiscus.identity.service._mfa import (
    backup_codes_regenerate,
    totp_disable,
    totp_enroll_confirm,
    totp_enroll_start,
    totp_matching_step,
)
from fiscus.identity.service._operator import (
    totp_provision,
    user_bootstrap,
    user_find,
    user_unlock,
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
    normalise_email,
    password_change,
    reauthenticate,
    user_add,
    user_personal,
    user_provision,
    user_read,
    user_update,
)

__all__ = [
    "API_KEY_PREFIX",
    "EMAIL_CHANGE_EVENT",
    "EMAIL_REQUESTED_EVENT",
    "LOCKED_OUT_EVENT",
    "MFA_PREFIX",
    "REFRESH_PREFIX",
    "RESET_EVENT",
    "Client",
    "api_key_create",
    "api_key_revoke",
    "auth_login",
    "auth_mfa_verify",
    "backup_codes_regenerate",
    "email_change_confirm",
    "email_change_request",
    "email_change_token_unseal",
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
    "totp_provision",
    "user_add",
    "user_bootstrap",
    "user_find",
    "user_personal",
    "user_provision",
    "user_read",
    "user_unlock",
    "user_update",
]
