"""Personal links for contacts: the invitation, one-click unsubscribe, submitting a declaration.

Each link carries a token signed with SECRET_KEY (itsdangerous, which Flask uses for its own
sessions) naming the contact and what the link is for; a separate salt per purpose means a
token for one can never be used for another. Nothing is stored: a link is rebuilt when a mail
is composed, so no working link sits in the database. A changed or tampered token is refused.
These links travel only in the contact's own mail, never on public pages or in feeds.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

INVITATION = "webinars.invitation"
UNSUBSCRIBE = "webinars.unsubscribe"
SUBMISSION = "webinars.declaration-submission"
#: Longer tokens than this are refused before any work is done.
MAX_TOKEN = 200


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def token(purpose: str, *ids: int) -> str:
    """A signed token naming these ids for one purpose."""
    return _serializer(purpose).dumps(list(ids))


def read(purpose: str, value: str, count: int) -> list[int] | None:
    """The ids a token names, or None when it is unknown, tampered or for another purpose."""
    if not value or len(value) > MAX_TOKEN:
        return None
    try:
        ids = _serializer(purpose).loads(value)
    except BadSignature:
        return None
    if not isinstance(ids, list) or len(ids) != count or not all(type(i) is int for i in ids):
        return None
    return ids


def _url(path: str, lang: str | None = None) -> str:
    # ?lang= opens the page in the mail's language (and keeps it for the visit).
    query = f"?lang={lang}" if lang else ""
    return f"{current_app.config['PUBLIC_URL']}{path}{query}"


def invitation_url(contact_id: int, event_id: int, lang: str | None = None) -> str:
    """The contact's link to the event's registration form, filled in with their details."""
    return _url(f"/i/{token(INVITATION, contact_id, event_id)}", lang)


def unsubscribe_url(contact_id: int) -> str:
    """One-click unsubscribe (RFC 8058): a POST here opts the contact out of invitations."""
    return _url(f"/u/{token(UNSUBSCRIBE, contact_id)}")


def submission_url(contact_id: int, programme_id: int, lang: str | None = None) -> str:
    """The contact's link to hand in their municipality's signed declaration."""
    return _url(f"/d/{token(SUBMISSION, contact_id, programme_id)}", lang)
