"""Public views: the programme, an event, registering, the registrant's page, calendar files."""

from datetime import timedelta

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from .. import events, ical, programmes, registrations
from ..extensions import db, limiter
from ..models import Event, Registration, utcnow
from . import bp
from .forms import RegistrationForm, for_event

#: Events the public sees: a draft is the organisers' own until it is published.
PUBLIC_STATUSES = (Event.PUBLISHED, Event.CANCELLED)


#: Built once: every public page looks its event up by slug; the event page gets its
#: material in the same query.
_BY_SLUG = select(Event).where(Event.slug == bindparam("slug"))
_WITH_MATERIAL = _BY_SLUG.options(joinedload(Event.materials))


#: Built once: the programme page and the feed list every public event by start.
_PUBLISHED = select(Event).where(Event.status.in_(PUBLIC_STATUSES)).order_by(Event.starts_at)


def _public_event(slug: str, *, material: bool = False) -> Event:
    statement = _WITH_MATERIAL if material else _BY_SLUG
    event = db.session.scalars(statement, {"slug": slug}).unique().first()
    if event is None or event.status not in PUBLIC_STATUSES:
        abort(404)
    return event


def _form_again(event: Event, form: RegistrationForm):
    """Show a posted form again (422) with its errors and every municipality to choose from."""
    return render_template("registration/event.html", event=event, form=form), 422


def private(response: Response) -> Response:
    """Pages and files behind a manage link: never cached, never sent on as a Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _calendar_response(data: bytes, filename: str) -> Response:
    return Response(
        data,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _public_calendar(file: ical.PublicFile, filename: str) -> Response:
    """A public file or feed with validators: a calendar polling an unchanged feed gets a 304.

    `no-cache`, not a max-age: a cache may keep the file but asks every time, so a cancelled
    or moved meeting reaches subscribers on their next poll, and the question costs about
    as much as /healthz. The ETag also names the language (a session may choose English),
    so a cache revalidating one language's copy for a reader of another gets the other.
    """
    response = _calendar_response(file.body, filename)
    response.set_etag(file.etag)
    # HTTP dates count whole seconds: a date sent in the second of the change would also
    # cover a second change in that second, and If-Modified-Since would hide it for ever.
    if file.modified is not None and utcnow() - file.modified >= timedelta(seconds=1):
        response.last_modified = file.modified
    response.cache_control.no_cache = True
    response.vary.add("Cookie")
    return response.make_conditional(request)


def _feed(scope: tuple, load, name: str | None, filename: str, changed=None) -> Response:
    """A public file or feed, built once per version of the events (any process's change
    moves it), scope, name and language. Last modified: when the latest of its events
    changed, or `changed` (what else it shows), or for a feed any event (one that left it)."""
    version = events.version()
    modified = max(filter(None, (version[1] if name else None, changed)), default=None)
    return _public_calendar(
        ical.public_file((*scope, version), load, name=name, modified=modified), filename
    )


@bp.get("/")
def index():
    """Upcoming events first, then past ones with their recordings."""
    now = utcnow()
    events = _published_events()
    upcoming = [e for e in events if not e.is_past(now)]
    past = [e for e in reversed(events) if e.is_past(now)]
    return render_template("registration/index.html", upcoming=upcoming, past=past, now=now)


@bp.get("/events/<slug>")
def event(slug):
    """The event, its material and recording, and the form while registration is open."""
    event = _public_event(slug, material=True)
    form = for_event(event) if registrations.is_open(event) else None
    return render_template("registration/event.html", event=event, form=form, now=utcnow())


@bp.post("/events/<slug>/register")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
def register(slug):
    """Register; the deadline and capacity are checked again here, not only on the form."""
    event = _public_event(slug)
    try:
        registrations.check_open(event)
    except registrations.RegistrationError as exc:
        return _closed(event, exc)
    form = for_event(event)
    if form.website.data:
        # The honeypot is filled: a bot. It gets the answer a person gets; nothing is stored.
        return _answer_registered(slug, request.form.get("email", ""))
    if not form.validate():
        return _form_again(event, form)
    try:
        registrations.register(
            event,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
            municipality=form.municipality.data,
            organisation=form.organisation.data or "",
            locale=str(get_locale() or "nb"),
        )
    except registrations.NotEligible as exc:
        form.municipality.errors = [exc.message]
        return _form_again(event, form)
    except registrations.RegistrationError as exc:
        return _closed(event, exc)
    # Whether the address was new or not, the answer is the same: the form never reveals
    # who is registered. The links travel only by e-mail.
    return _answer_registered(slug, form.email.data)


def _answer_registered(slug: str, email: str):
    """303 to the page that says where the confirmation went."""
    session["registered"] = {"slug": slug, "email": email.strip().lower()[:254]}
    return redirect(url_for(".registered", slug=slug), code=303)


def _closed(event: Event, exc: registrations.RegistrationError, registering: bool = True):
    return (
        render_template(
            "registration/closed.html", event=event, reason=exc.message, registering=registering
        ),
        exc.status,
    )


@bp.get("/events/<slug>/registered")
def registered(slug):
    """Says where the confirmation went."""
    event = _public_event(slug)
    done = session.get("registered")
    if not done or done.get("slug") != slug:
        return redirect(url_for(".event", slug=slug))
    return render_template("registration/registered.html", event=event, email=done["email"])


@bp.get("/events/<slug>/calendar.ics")
def event_calendar(slug):
    """The public calendar file for one event (no join link)."""
    # Cached by the events' version like the feeds: a hit needs no event row (a slug whose
    # file was built for this version is a public event's), a miss loads it or is a 404.
    return _feed(("event", slug), lambda: [_public_event(slug)], None, f"{slug}.ics")


@bp.get("/programmes/<slug>/calendar.ics")
def programme_calendar(slug):
    """The programme's feed: its published events, past and upcoming (no join links)."""
    programme = programmes.by_slug(slug) or abort(404)
    return _feed(
        ("programme", programme.id),
        lambda: programmes.public_events(programme),
        programme.title,
        f"{programme.slug}.ics",
        changed=programme.updated_at,
    )


def _published_events() -> list[Event]:
    return list(db.session.scalars(_PUBLISHED))


@bp.get("/calendar.ics")
def feed():
    """A feed of every published event, past and upcoming, to subscribe to."""
    return _feed(("site",), _published_events, _("Webinarer og digitale møter"), "webinarer.ics")


def _registration(token: str):
    registration = registrations.find_by_token(token)
    if registration is None or registration.anonymised_at is not None:
        abort(404)
    return registration


@bp.get("/r/<token>")
def manage(token):
    """The registrant's own page: status, join link, invite, cancel."""
    registration = _registration(token)
    return private(
        current_app.make_response(
            render_template(
                "registration/manage.html",
                registration=registration,
                event=registration.event,
                token=token,
                now=utcnow(),
                just_cancelled=session.pop("cancelled", False),
            )
        )
    )


@bp.get("/r/<token>/invite.ics")
def invite(token):
    """The registrant's own calendar file, with the join link."""
    registration = _registration(token)
    if registration.status != Registration.CONFIRMED:
        abort(410)
    data = ical.personal_download(registration)
    return private(_calendar_response(data, "invitasjon.ics"))


@bp.get("/r/<token>/cancel")
def confirm_cancel(token):
    """Asks before cancelling."""
    registration = _registration(token)
    if registration.status == Registration.CANCELLED:
        return redirect(url_for(".manage", token=token))
    return private(
        current_app.make_response(
            render_template(
                "registration/cancel.html",
                registration=registration,
                event=registration.event,
                token=token,
            )
        )
    )


@bp.post("/r/<token>/cancel")
def cancel(token):
    """Cancels the registration and sends the calendar a CANCEL."""
    registration = _registration(token)
    try:
        registrations.cancel(registration)
    except registrations.RegistrationError as exc:
        return _closed(registration.event, exc, registering=False)
    session["cancelled"] = True
    return redirect(url_for(".manage", token=token), code=303)
