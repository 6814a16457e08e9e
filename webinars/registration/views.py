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
from . import bp, pages
from .forms import LinkForm, RegistrationForm, for_event

#: Events the public sees: a draft is the organisers' own until it is published.
PUBLIC_STATUSES = (Event.PUBLISHED, Event.CANCELLED)


#: Built once: every public page looks its event up by slug; the event page gets its
#: material and programme in the same query.
_BY_SLUG = select(Event).where(Event.slug == bindparam("slug"))
_WITH_MATERIAL = _BY_SLUG.options(joinedload(Event.materials), joinedload(Event.programme))


#: Built once: the programme page and the feed list every public event by start, with
#: their programmes (the page names them).
_PUBLISHED = (
    select(Event)
    .where(Event.status.in_(PUBLIC_STATUSES))
    .order_by(Event.starts_at)
    .options(joinedload(Event.programme))
)


def _public_event(slug: str, *, material: bool = False) -> Event:
    if material:  # one row per material: made unique
        event = db.session.scalars(_WITH_MATERIAL, {"slug": slug}).unique().first()
    else:
        event = db.session.scalars(_BY_SLUG, {"slug": slug}).first()
    if event is None or event.status not in PUBLIC_STATUSES:
        abort(404)
    return event


def _form_again(event: Event, form: RegistrationForm):
    """Show a posted form again (422) with its errors and every municipality to choose from."""
    if not form.events.choices:  # a POST that ticked no other event did not look them up
        form.offer_series(registrations.series_candidates(event))
    return _event_page(event, form=form), 422


def _registration_form(event: Event) -> RegistrationForm | None:
    """The form while the event takes registrations (a full event without a waiting list
    takes none: its page says it is full)."""
    if registrations.form_open(event):
        return for_event(event)
    return None


def _event_page(event: Event, form=None, link_form: LinkForm | None = None, now=None) -> str:
    """The event page, with the registration form and the "send me my link again" form."""
    sent = session.pop("link_sent", None)
    return render_template(
        "registration/event.html",
        event=event,
        form=form,
        link_form=link_form or LinkForm(formdata=None),
        link_sent=sent["email"] if sent and sent.get("slug") == event.slug else None,
        now=now or utcnow(),
    )


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
    return pages.cached(
        pages.programme_key(events, now),
        lambda: render_template("registration/index.html", upcoming=upcoming, past=past, now=now),
    )


@bp.get("/events/<slug>")
def event(slug):
    """The event, its material and recording, and the form while registration is open."""
    event = _public_event(slug, material=True)
    now = utcnow()
    # The form's other events are read for the key; the form is built only to render.
    series = (
        registrations.series_candidates(event, now) if registrations.form_open(event, now) else None
    )

    def render() -> str:
        form = None if series is None else for_event(event, candidates=series)
        return _event_page(event, form=form, now=now)

    # A "link sent" note is this session's own: that page is rendered for it alone.
    key = None if "link_sent" in session else pages.event_key(event, series, now)
    return pages.cached(key, render)


@bp.post("/events/<slug>/register")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
def register(slug):
    """Register; the deadline and capacity are checked again here, not only on the form."""
    event = _public_event(slug)
    try:
        registrations.check_open(event)
    except registrations.RegistrationError as exc:
        return _closed(event, exc)
    # The programme's other events are looked up only when some are ticked.
    form = for_event(event, series=bool(request.form.getlist("events")))
    if form.website.data:
        # The honeypot is filled: a bot. It gets the answer a person gets; nothing is stored.
        return _answer_registered(
            slug, request.form.get("email", ""), registrations.answered_position(event)
        )
    if not form.validate():
        return _form_again(event, form)
    person = {
        "name": form.name.data,
        "email": form.email.data,
        "role": form.role.data,
        "municipality": form.municipality.data,
        "organisation": form.organisation.data or "",
        "locale": str(get_locale() or "nb"),
    }
    also = form.chosen_series()
    try:
        registration, new = registrations.register(
            event, **person, question=form.question.data or "", also=also
        )
    except registrations.NotEligible as exc:
        form.municipality.errors = [exc.message]
        return _form_again(event, form)
    except registrations.SeriesEventError as exc:
        form.events.errors = [exc.message]
        return _form_again(event, form)
    except registrations.RegistrationError as exc:
        return _closed(event, exc)
    # Whether the address was new or not, the answer is the same: the form never reveals
    # who is registered. The links travel only by e-mail.
    position = registrations.answered_position(event, registration, new)
    return _answer_registered(
        slug, form.email.data, position, person, [slug, *(e.slug for e in also)]
    )


def _answer_registered(
    slug: str, email: str, position: int | None = None, person: dict | None = None, done=()
):
    """303 to the page that says where the confirmation went (and the waiting-list number).

    The session keeps what was typed (only in this browser), so that page can register the
    same person for the programme's other events with one click, without typing it again.
    """
    session["registered"] = {
        "slug": slug,
        "email": email.strip().lower()[:254],
        "position": position,
        "person": person,
        "done": list(done),
    }
    return redirect(url_for(".registered", slug=slug), code=303)


@bp.post("/events/<slug>/link")
@limiter.limit(lambda: current_app.config["RATELIMIT_SEND_LINK"])
def send_link(slug):
    """ "Send me my link again": the same answer whether or not the address is registered."""
    event = _public_event(slug)
    form = LinkForm()
    try:
        registrations.check_links_open(event)
    except registrations.RegistrationError as exc:
        return _closed(event, exc, registering=False)
    if not form.validate():
        return _event_page(event, form=_registration_form(event), link_form=form), 422
    registrations.send_link(event, form.email.data)
    session["link_sent"] = {"slug": slug, "email": form.email.data.strip().lower()[:254]}
    return redirect(url_for(".event", slug=slug, _anchor="lenke"), code=303)


@bp.post("/events/<slug>/register/as-before")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
def register_as_before(slug):
    """One click on the page after registering: the same person, for this event too."""
    event = _public_event(slug)
    done = session.get("registered") or {}
    person = done.get("person")
    if not person:
        # Nothing typed in this browser (or the session ended): the form asks for it.
        return redirect(url_for(".event", slug=slug, _anchor="pamelding"), code=303)
    origin = _public_event(done.get("slug", ""))
    try:
        registration, new = registrations.register_for_another(origin, event, **person)
    except registrations.RegistrationError as exc:
        return _closed(event, exc)
    position = registrations.answered_position(event, registration, new)
    return _answer_registered(
        slug, person["email"], position, person, [*done.get("done", ()), slug]
    )


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
    # What this browser registered for just now, and the programme's other open events,
    # each a click away (offered only when the person's details are in this session).
    ticked = set(done.get("done", ()))
    series = registrations.series_candidates(event)
    also = [other for other in series if other.slug in ticked]
    offered = [
        other
        for other in series
        if other.slug not in ticked and registrations.refusal(other) is None
    ]
    return render_template(
        "registration/registered.html",
        event=event,
        email=done["email"],
        position=done.get("position"),
        also=also,
        offered=offered if done.get("person") else [],
    )


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
    """The registrant's own page: status, join link, invite, cancel, the programme's others."""
    registration = _registration(token)
    event = registration.event
    now = utcnow()
    series = registrations.series_choices(event, now)
    mine = registrations.statuses_of(registration.email, [e.id for e in series])
    state = {
        "position": registrations.waitlist_position(registration),
        "just_cancelled": session.pop("cancelled", False),
        "just_registered": session.pop("registered_also", None),
    }

    def render(registrant, link) -> str:
        return render_template(
            "registration/manage.html",
            registration=registrant,
            event=event,
            token=link,
            now=now,
            series=series,
            mine=mine,
            **state,
        )

    page = pages.registrant_page(
        registration, token, render, now, series, mine=tuple(sorted(mine.items())), **state
    )
    return private(current_app.make_response(page))


@bp.post("/r/<token>/register/<slug>")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
def register_from_manage(token, slug):
    """One click on the registrant's page: the same person, for another event of the programme."""
    registration = _registration(token)
    event = _public_event(slug)
    try:
        registrations.register_for_another(
            registration.event, event, **registrations.person_of(registration)
        )
    except registrations.RegistrationError as exc:
        return private(current_app.make_response(_closed(event, exc)))
    session["registered_also"] = event.title
    return redirect(url_for(".manage", token=token), code=303)


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
