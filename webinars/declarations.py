"""Declarations of intent: recorded by organisers, loaded from a file, or submitted by a
municipality through its personal link and accepted by an organiser before it counts
(a declarations file is read by declaration_files.py).

A municipality of the programme's campaign has at most one accepted declaration (kept by a
partial unique index); withdrawn and rejected ones stay as its history. The signed PDF is
stored in the database, so every web server can hand it out. A declaration received after
the deadline is accepted and counts, and is shown as late.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, undefer

from .db import write_transaction
from .extensions import db
from .mail import messages
from .models import (
    Contact,
    Declaration,
    DeclarationDocument,
    Municipality,
    Programme,
    SubmissionLink,
    utcnow,
)
from .programmes import eligible_municipalities, is_eligible

#: The largest signed declaration taken (a scanned page or two is far below this).
MAX_DOCUMENT = 10 * 1024 * 1024


class DeclarationError(Exception):
    """A declaration that cannot be stored or changed; `message` is for the user."""

    status = 409
    message = _l("Erklæringen kan ikke lagres.")

    def __init__(self, message=None, field: str | None = None):
        self.message = message or self.message
        self.field = field
        super().__init__(str(self.message))


class NotInCampaign(DeclarationError):
    status = 422
    message = _l("Kommunen er ikke med i denne kampanjen, så erklæringen telles ikke.")


class AlreadySigned(DeclarationError):
    message = _l(
        "Kommunen har allerede en godkjent erklæring. Trekk den tilbake først om den skal "
        "erstattes."
    )


class NotPending(DeclarationError):
    message = _l("Erklæringen venter ikke på godkjenning (lenger).")


class InvalidDocument(DeclarationError):
    status = 422
    message = _l("Filen er ikke en PDF. Last opp den signerte erklæringen som PDF.")


class DocumentTooLarge(DeclarationError):
    status = 413
    message = _l("Filen er for stor. Den signerte erklæringen kan være høyst 10 MB.")


@dataclass(frozen=True)
class Upload:
    """A file as received: its name and its bytes."""

    filename: str
    data: bytes


def check_pdf(upload: Upload) -> None:
    """Refuse anything that is not a PDF of at most 10 MB (by its content, not its name)."""
    if len(upload.data) > MAX_DOCUMENT:
        raise DocumentTooLarge(field="document")
    # A PDF starts with its header (some writers put a few bytes before it) and ends with
    # %%EOF (some add a line or padding after it).
    head, tail = upload.data[:1024], upload.data[-2048:]
    if b"%PDF-" not in head or b"%%EOF" not in tail:
        raise InvalidDocument(field="document")


def _document(upload: Upload | None) -> DeclarationDocument | None:
    if upload is None or not upload.data:
        return None
    check_pdf(upload)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", upload.filename.rsplit("/", 1)[-1]).strip("-.")
    name = (stem[:-4] if stem.lower().endswith(".pdf") else stem)[:150] or "erklaering"
    return DeclarationDocument(
        filename=f"{name}.pdf",
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        content=upload.data,
    )


def _municipality(programme: Programme, number: str) -> Municipality:
    municipality = db.session.get(Municipality, number)
    if municipality is None or not is_eligible(programme, municipality):
        raise NotInCampaign(field="municipality")
    return municipality


def accepted_of(programme: Programme, number: str) -> Declaration | None:
    """The municipality's accepted declaration, if it has one."""
    return db.session.scalar(
        select(Declaration).where(
            Declaration.programme_id == programme.id,
            Declaration.municipality_number == number,
            Declaration.status == Declaration.ACCEPTED,
        )
    )


def record(
    programme: Programme,
    *,
    municipality: str,
    signed_on: date,
    by: str,
    signed_by_name: str = "",
    signed_by_role: str = "",
    note: str = "",
    document: Upload | None = None,
    source: str = "organiser",
    now: datetime | None = None,
) -> Declaration:
    """An organiser records a signed declaration; it counts at once."""
    _municipality(programme, municipality)
    stored = _document(document)
    try:
        with write_transaction():
            if accepted_of(programme, municipality) is not None:
                raise AlreadySigned(field="municipality")
            declaration = Declaration(
                programme_id=programme.id,
                municipality_number=municipality,
                status=Declaration.ACCEPTED,
                signed_on=signed_on,
                signed_by_name=" ".join(signed_by_name.split()),
                signed_by_role=" ".join(signed_by_role.split()),
                note=note.strip(),
                document=stored,
                source=source,
                recorded_by=by,
                recorded_at=now or utcnow(),
                decided_by=by,
                decided_at=now or utcnow(),
            )
            db.session.add(declaration)
    except IntegrityError:
        # Someone recorded one for the same municipality a moment ago.
        raise AlreadySigned(field="municipality") from None
    return declaration


def withdraw(declaration: Declaration, *, by: str, now: datetime | None = None) -> bool:
    """Withdraw an accepted or pending declaration (kept as history); False if it was not."""
    with write_transaction():
        db.session.refresh(declaration, with_for_update=True)
        if declaration.status not in (Declaration.ACCEPTED, Declaration.SUBMITTED):
            return False
        declaration.status = Declaration.WITHDRAWN
        declaration.withdrawn_by = by
        declaration.withdrawn_at = now or utcnow()
    return True


def submit(
    programme: Programme,
    contact: Contact,
    *,
    signed_on: date,
    signed_by_name: str,
    signed_by_role: str,
    document: Upload,
    note: str = "",
    now: datetime | None = None,
) -> Declaration:
    """A municipality hands in its signed declaration; it waits for an organiser to accept it."""
    _municipality(programme, contact.municipality_number)
    stored = _document(document)
    if stored is None:
        raise InvalidDocument(field="document")
    with write_transaction():
        declaration = Declaration(
            programme_id=programme.id,
            municipality_number=contact.municipality_number,
            status=Declaration.SUBMITTED,
            signed_on=signed_on,
            signed_by_name=" ".join(signed_by_name.split()),
            signed_by_role=" ".join(signed_by_role.split()),
            note=note.strip(),
            document=stored,
            source="municipality",
            submitted_by_contact_id=contact.id,
            recorded_by=contact.email,
            recorded_at=now or utcnow(),
        )
        db.session.add(declaration)
    return declaration


def decide(declaration: Declaration, *, accept: bool, by: str, now: datetime | None = None):
    """Accept a submitted declaration (it counts from now) or reject it (kept as history)."""
    try:
        with write_transaction():
            db.session.refresh(declaration, with_for_update=True)
            if declaration.status != Declaration.SUBMITTED:
                raise NotPending()
            programme = db.session.get(Programme, declaration.programme_id)
            if accept and accepted_of(programme, declaration.municipality_number) is not None:
                raise AlreadySigned()
            declaration.status = Declaration.ACCEPTED if accept else Declaration.REJECTED
            declaration.decided_by = by
            declaration.decided_at = now or utcnow()
    except IntegrityError:
        raise AlreadySigned() from None


# --- reading --------------------------------------------------------------------------------


def pending(programme: Programme) -> list[Declaration]:
    """Declarations municipalities sent in that wait for an organiser, oldest first."""
    return list(
        db.session.scalars(
            select(Declaration)
            .options(joinedload(Declaration.municipality), joinedload(Declaration.document))
            .where(
                Declaration.programme_id == programme.id,
                Declaration.status == Declaration.SUBMITTED,
            )
            .order_by(Declaration.recorded_at, Declaration.id)
        )
    )


def history(programme: Programme) -> list[Declaration]:
    """Every declaration of the programme, newest first, withdrawn and rejected ones too."""
    return list(
        db.session.scalars(
            select(Declaration)
            .options(joinedload(Declaration.municipality), joinedload(Declaration.document))
            .where(Declaration.programme_id == programme.id)
            .order_by(Declaration.recorded_at.desc(), Declaration.id.desc())
        )
    )


def of_programme(programme: Programme, declaration_id: int) -> Declaration | None:
    """The declaration with this id if it belongs to the programme."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.programme_id != programme.id:
        return None
    return declaration


def document_of(declaration: Declaration) -> DeclarationDocument | None:
    """The stored PDF of a declaration, its content loaded."""
    if declaration.document_id is None:
        return None
    return db.session.get(
        DeclarationDocument,
        declaration.document_id,
        options=[undefer(DeclarationDocument.content)],
    )


# --- asking municipalities for their declaration --------------------------------------------


def _link_audience(programme: Programme):
    """Contacts of unsigned eligible municipalities not sent the link yet, nor opted out."""
    signed = exists(
        select(Declaration.id).where(
            Declaration.programme_id == programme.id,
            Declaration.municipality_number == Contact.municipality_number,
            Declaration.status == Declaration.ACCEPTED,
        )
    )
    sent = exists(
        select(SubmissionLink.id).where(
            SubmissionLink.programme_id == programme.id,
            SubmissionLink.contact_id == Contact.id,
        )
    )
    return (
        select(Contact)
        .join(Municipality, Municipality.number == Contact.municipality_number)
        .where(
            eligible_municipalities(programme), Contact.unsubscribed_at.is_(None), ~signed, ~sent
        )
    )


def link_count(programme: Programme) -> int:
    """How many contacts sending the submission links would mail now."""
    return len(db.session.scalars(_link_audience(programme)).all())


def send_submission_links(programme: Programme, now: datetime | None = None) -> int:
    """Mail each contact of an unsigned municipality their personal link, once each."""
    now = now or utcnow()
    sent = 0
    with write_transaction():
        db.session.refresh(programme, with_for_update=True)  # one sender at a time
        for contact in db.session.scalars(_link_audience(programme).order_by(Contact.id)):
            db.session.add(
                SubmissionLink(programme_id=programme.id, contact_id=contact.id, sent_at=now)
            )
            messages.queue_submission_link(contact, programme)
            sent += 1
    return sent
