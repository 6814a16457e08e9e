"""Organisers' participant pages: counts, search and filters, cancel, add by hand, capacity,
and the exports of what the page shows: CSV (BOM, delimiter, formula injection) and XLSX
(typed cells)."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select, update

from tests.support import deliver, form_token, outbox, sign_in, text_part, within
from webinars import participants as roster
from webinars import registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Registration, utcnow


def cancel(app, registration) -> None:
    """Cancel a registration as its registrant would, through the service."""
    with within(app):
        registrations.cancel(db.session.get(Registration, registration.id))


def backdate(app, registration, at: datetime) -> None:
    """Pretend the registration was made at `at` (UTC)."""
    with within(app), write_transaction():
        db.session.execute(
            update(Registration).where(Registration.id == registration.id).values(created_at=at)
        )


def csrf(client, path: str) -> str:
    return form_token(client.get(path).text)


def statuses(app, event_id: int) -> dict[str, str]:
    """Each e-mail's status, read afresh in a context of its own."""
    with within(app):
        return dict(
            db.session.execute(
                select(Registration.email, Registration.status)
                .where(Registration.event_id == event_id)
                .order_by(Registration.id)
            ).all()
        )


def seats_taken(app, event_id: int) -> int:
    with within(app):
        return db.session.get(Event, event_id).seats_taken


def delivered(app, smtp) -> list[tuple[str, object]]:
    """Deliver the outbox to the test SMTP server; (recipient, message) pairs."""
    deliver(app)
    return [(envelope.rcpt_tos[0], message) for envelope, message in smtp.messages]


def calendar_method(message) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method")
    return None


def names_listed(response) -> list[str]:
    """The names in the table's first column, in order."""
    body = response.text.split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\s*<td>([^<]*)</td>", body)


# --- counts, search and filters ---------------------------------------------------------------


def test_counts_by_status_and_seats_left(app, signed_in, create_event, create_registration):
    event = create_event(capacity=3, waitlist=True)
    people = [
        create_registration(event, name=f"Person {n}", email=f"p{n}@kommune.no") for n in range(5)
    ]
    cancel(app, people[0])  # the first on the waiting list (Person 3) gets the seat

    page = signed_in.get(f"/organiser/events/{event.slug}/participants")

    assert page.status_code == 200
    assert "<dt>Påmeldt</dt><dd>3</dd>" in page.text
    assert "<dt>Venteliste</dt><dd>1</dd>" in page.text
    assert "<dt>Avbestilt</dt><dd>1</dd>" in page.text
    assert "<dt>Ledige plasser</dt>" in page.text and "0 av 3" in page.text
    assert names_listed(page) == [f"Person {n}" for n in range(5)]


def test_unlimited_event_says_so(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event)

    page = signed_in.get(f"/organiser/events/{event.slug}/participants")

    assert "<dt>Påmeldt</dt><dd>1</dd>" in page.text
    assert "Ubegrenset" in page.text


@pytest.fixture
def crowd(app, create_event, create_registration):
    """An event with people from Oslo, Bergen and Bodø in different roles and states."""
    event = create_event(slug="akson-stormote")
    create_registration(event, name="Kari Ærlig", email="kari@oslo.kommune.no", municipality="0301")
    create_registration(
        event,
        name="Ola Berg",
        email="ola@bergen.kommune.no",
        municipality="4601",
        role="kommunalsjef",
        organisation="Helse Vest",
    )
    create_registration(
        event,
        name="Åse Øyen",
        email="ase@bodo.kommune.no",
        municipality="1804",
        organisation="ØRSTA RÅD 100%",
    )
    gone = create_registration(
        event, name="Per Vik", email="per@bergen.kommune.no", municipality="4601"
    )
    cancel(app, gone)
    return event


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["Kari Ærlig", "Ola Berg", "Åse Øyen", "Per Vik"]),
        ("q=ærlig", ["Kari Ærlig"]),  # Æ folded to æ on SQLite too
        ("q=ÅSE", ["Åse Øyen"]),
        ("q=bergen.kommune", ["Ola Berg", "Per Vik"]),  # e-mail
        ("q=BERG", ["Ola Berg", "Per Vik"]),  # name or e-mail, any case
        ("q=øyen", ["Åse Øyen"]),
        ("q=helse+vest", ["Ola Berg"]),  # organisation, every word must match
        ("q=ørsta+råd", ["Åse Øyen"]),
        ("q=100%25", ["Åse Øyen"]),  # % is a character, not a wildcard
        ("q=%25", ["Åse Øyen"]),
        ("q=_", []),
        ("municipality=4601", ["Ola Berg", "Per Vik"]),
        ("county=18", ["Åse Øyen"]),
        ("role=kommunalsjef", ["Ola Berg"]),
        ("status=cancelled", ["Per Vik"]),
        ("county=46&status=confirmed", ["Ola Berg"]),
        ("status=nonsense", ["Kari Ærlig", "Ola Berg", "Åse Øyen", "Per Vik"]),
    ],
)
def test_search_and_filters(signed_in, crowd, query, expected):
    page = signed_in.get(f"/organiser/events/akson-stormote/participants?{query}")

    assert page.status_code == 200
    assert names_listed(page) == expected


def test_filtered_view_is_a_shareable_url_and_exports_follow_it(signed_in, crowd):
    base = "/organiser/events/akson-stormote/participants"

    page = signed_in.get(f"{base}?county=46&role=kommunalsjef")

    assert '<option value="46" selected>Vestland</option>' in page.text
    assert '<option value="kommunalsjef" selected>' in page.text
    assert "1 treff." in page.text
    assert f'href="{base}.csv?county=46&amp;role=kommunalsjef"' in page.text
    assert f'href="{base}.csv?sep=semicolon&amp;county=46&amp;role=kommunalsjef"' in page.text
    assert f'href="{base}.xlsx?county=46&amp;role=kommunalsjef"' in page.text
    # Only municipalities and counties that occur are offered as filters.
    assert '<option value="1804">Bodø (1804)</option>' in page.text
    assert 'value="5001"' not in page.text


def test_pages(signed_in, create_event, create_registration, monkeypatch):
    monkeypatch.setattr(roster, "PAGE_SIZE", 2)
    event = create_event()
    for n in range(5):
        create_registration(event, name=f"Person {n}", email=f"p{n}@kommune.no")
    url = f"/organiser/events/{event.slug}/participants"

    first, last = signed_in.get(url), signed_in.get(f"{url}?page=3")

    assert names_listed(first) == ["Person 0", "Person 1"]
    assert "Side 1 av 3" in first.text and 'rel="next"' in first.text
    assert names_listed(last) == ["Person 4"]
    assert 'rel="prev"' in last.text and 'rel="next"' not in last.text
    beyond = signed_in.get(f"{url}?page=9")
    assert "Siden finnes ikke" in beyond.text
    assert "Ingen har meldt seg på" not in beyond.text


def test_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/participants").status_code == 404


# --- cancelling -------------------------------------------------------------------------------


def test_organiser_cancel_asks_first_then_mails_and_moves_the_waitlist(
    mail_app, signed_in, create_event, create_registration, smtp
):
    event = create_event(capacity=1, waitlist=True, title="Akson stormøte")
    kari = create_registration(event, name="Kari", email="kari@kommune.no")
    create_registration(event, name="Ola", email="ola@kommune.no")
    create_registration(event, name="Per", email="per@kommune.no")
    slug, event_id = event.slug, event.id
    url = f"/organiser/events/{slug}/participants/{kari.id}/cancel"
    delivered(mail_app, smtp)  # the confirmations
    smtp.messages.clear()

    confirm = signed_in.get(f"{url}?status=confirmed")

    assert confirm.status_code == 200
    assert "Kari (kari@kommune.no)" in confirm.text
    assert '<input type="hidden" name="status" value="confirmed">' in confirm.text
    assert statuses(mail_app, event_id) == {
        "kari@kommune.no": "confirmed",
        "ola@kommune.no": "waitlisted",
        "per@kommune.no": "waitlisted",
    }

    token = form_token(confirm.text)
    response = signed_in.post(url, data={"csrf_token": token, "status": "confirmed"})

    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"/organiser/events/{slug}/participants?status=confirmed"
    )
    # The first in line gets the seat; the next one keeps waiting.
    assert statuses(mail_app, event_id) == {
        "kari@kommune.no": "cancelled",
        "ola@kommune.no": "confirmed",
        "per@kommune.no": "waitlisted",
    }
    assert seats_taken(mail_app, event_id) == 1
    after = signed_in.get(response.headers["Location"])
    assert "Påmeldingen til Kari er avbestilt" in after.text
    assert "Ola fikk plassen fra ventelisten" in after.text

    mails = dict(delivered(mail_app, smtp))
    assert set(mails) == {"kari@kommune.no", "ola@kommune.no"}
    assert calendar_method(mails["kari@kommune.no"]) == "CANCEL"
    assert "Arrangøren har avbestilt" in text_part(mails["kari@kommune.no"])
    assert calendar_method(mails["ola@kommune.no"]) == "REQUEST"
    assert "http://webinars.test/r/" in text_part(mails["ola@kommune.no"])


def test_cancel_twice_changes_nothing(app, signed_in, create_event, create_registration):
    event = create_event()
    kari = create_registration(event)
    url = f"/organiser/events/{event.slug}/participants/{kari.id}/cancel"
    token = csrf(signed_in, url)
    signed_in.post(url, data={"csrf_token": token})
    outbox_before = len(outbox(app))

    again = signed_in.post(url, data={"csrf_token": token}, follow_redirects=True)

    assert "allerede avbestilt" in again.text
    assert len(outbox(app)) == outbox_before


def test_cancel_needs_the_registration_to_belong_to_the_event(
    signed_in, create_event, create_registration
):
    one, other = create_event(), create_event()
    kari = create_registration(one)

    response = signed_in.get(f"/organiser/events/{other.slug}/participants/{kari.id}/cancel")

    assert response.status_code == 404


# --- adding by hand ---------------------------------------------------------------------------

FORM = {
    "name": "Ola Nordmann",
    "email": "Ola@Bergen.Kommune.no",
    "role": "kommunedirektor",
    "municipality": "4601",
    "organisation": "Bergen kommune",
}


def post_add(client, event, **fields):
    url = f"/organiser/events/{event.slug}/participants/add"
    data = dict(FORM, csrf_token=csrf(client, url))
    data.update(fields)
    return client.post(url, data=data)


def test_add_by_hand_sends_the_confirmation_with_a_manage_link(
    mail_app, signed_in, create_event, smtp
):
    event = create_event(title="Akson webinar 1")

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/organiser/events/{event.slug}/participants"
    assert statuses(mail_app, event.id) == {"ola@bergen.kommune.no": "confirmed"}
    page = signed_in.get(response.headers["Location"])
    assert "Ola Nordmann er påmeldt" in page.text
    [(recipient, message)] = delivered(mail_app, smtp)
    assert recipient == "ola@bergen.kommune.no"
    assert calendar_method(message) == "REQUEST"
    link = re.search(r"http://webinars\.test(/r/[A-Za-z0-9_-]+)", text_part(message)).group(1)
    # The link in the mail is the registrant's own page.
    assert "Akson webinar 1" in signed_in.get(link).text


@pytest.mark.parametrize(
    "window",
    [
        {"deadline_days_before": None, "deadline_at": utcnow() - timedelta(hours=1)},
        {"registration_opens_at": utcnow() + timedelta(days=3)},
    ],
    ids=["after-deadline", "before-opening"],
)
def test_organisers_may_add_outside_the_registration_window(
    app, signed_in, create_event, create_registration, window
):
    event = create_event(**window)
    with pytest.raises((registrations.DeadlinePassed, registrations.NotOpenYet)):
        create_registration(event)  # the public way is closed

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert statuses(app, event.id) == {"ola@bergen.kommune.no": "confirmed"}


def test_add_by_hand_validates_like_the_public_form(app, signed_in, create_event):
    event = create_event(eligible_regions="Nord,Vest,Sør-Øst")

    response = post_add(signed_in, event, name="", email="ikke-en-adresse", municipality="5001")

    assert response.status_code == 422
    assert 'id="name-error">Skriv navnet ditt.' in response.text
    assert 'id="email-error">Skriv en gyldig e-postadresse' in response.text
    assert 'id="municipality-error">Velg en kommune fra listen' in response.text
    assert statuses(app, event.id) == {}


def test_add_by_hand_keeps_capacity_and_duplicate_rules(app, signed_in, create_event):
    event = create_event(capacity=1, waitlist=False)
    assert post_add(signed_in, event).status_code == 303

    full = post_add(signed_in, event, email="kari@kommune.no")
    again = post_add(signed_in, event, email="OLA@bergen.kommune.no")

    assert full.status_code == 409
    assert "Arrangementet er fullt" in full.text
    assert again.status_code == 303
    assert "var allerede påmeldt" in signed_in.get(again.headers["Location"]).text
    assert statuses(app, event.id) == {"ola@bergen.kommune.no": "confirmed"}
    assert seats_taken(app, event.id) == 1


def test_add_by_hand_goes_to_the_waiting_list_when_full(
    app, signed_in, create_event, create_registration
):
    event = create_event(capacity=1, waitlist=True)
    create_registration(event)

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert "satt på ventelisten" in signed_in.get(response.headers["Location"]).text
    assert statuses(app, event.id)["ola@bergen.kommune.no"] == "waitlisted"


@pytest.mark.parametrize(
    "status, code, words",
    [(Event.DRAFT, 409, "ikke publisert"), (Event.CANCELLED, 410, "avlyst")],
)
def test_add_by_hand_refused_for_drafts_and_cancelled_events(
    app, signed_in, create_event, status, code, words
):
    event = create_event(status=status)

    response = post_add(signed_in, event)

    assert response.status_code == code
    assert words in response.text
    assert statuses(app, event.id) == {}


# --- capacity under concurrency ---------------------------------------------------------------


@pytest.mark.parametrize("waitlist", [False, True], ids=["no-waitlist", "waitlist"])
def test_seats_are_never_oversold_under_concurrent_adds_and_registrations(
    app, create_event, waitlist
):
    event = create_event(capacity=5, waitlist=waitlist)
    slug, event_id = event.slug, event.id
    add_url = f"/organiser/events/{slug}/participants/add"
    requests = []
    for n in range(8):
        organiser = sign_in(app.test_client(), app, f"arr{n}@ks.test")
        token = csrf(organiser, add_url)
        requests.append(
            (organiser, add_url, dict(FORM, email=f"org{n}@kommune.no", csrf_token=token))
        )
        public = app.test_client()
        token = csrf(public, f"/events/{slug}")
        requests.append(
            (
                public,
                f"/events/{slug}/register",
                dict(FORM, email=f"pub{n}@kommune.no", csrf_token=token),
            )
        )
    start = threading.Barrier(len(requests))
    codes: list[int] = []

    def post(client, url, data):
        # Each request pushes its own app context and session, as in production.
        start.wait()
        codes.append(client.post(url, data=data).status_code)

    threads = [threading.Thread(target=post, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    found = statuses(app, event_id)
    assert len(codes) == 16
    assert list(found.values()).count("confirmed") == 5
    assert seats_taken(app, event_id) == 5
    if waitlist:
        assert sorted(codes) == [303] * 16
        assert list(found.values()).count("waitlisted") == 11
    else:
        assert sorted(codes) == [303] * 5 + [409] * 11
        assert len(found) == 5


# --- anonymous visitors -------------------------------------------------------------------------


def test_participant_pages_require_login(app, client, create_event, create_registration):
    event = create_event()
    kari = create_registration(event)
    base = f"/organiser/events/{event.slug}/participants"
    # A CSRF token from a public page, so the POSTs are refused for the login, not the token.
    token = csrf(client, f"/events/{event.slug}")

    responses = [
        client.get(base),
        client.get(f"{base}?q=kari"),
        client.get(f"{base}/add"),
        client.get(f"{base}/{kari.id}/cancel"),
        client.post(f"{base}/{kari.id}/cancel", data={"csrf_token": token}),
        client.post(f"{base}/add", data=dict(FORM, csrf_token=token)),
    ]

    for response in responses:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/organiser/login")
        assert "kari@kommune.no" not in response.text
    assert statuses(app, event.id) == {"kari@kommune.no": "confirmed"}


# --- CSV export -------------------------------------------------------------------------------

BOM = "\ufeff"
HEADER = [
    "Navn",
    "E-post",
    "Rolle",
    "Kommunenummer",
    "Kommune",
    "Fylke",
    "Organisasjon",
    "Status",
    "Registrert",
    "Deltok",
    "Minutter deltatt",
    # Added at the end, so the columns before keep their places.
    "Arrangement",
    "Arrangementsdato",
]


def local_day(event) -> str:
    """The event's date in its own zone, as the exports write it."""
    return event.starts_at.astimezone(ZoneInfo(event.timezone)).date().isoformat()


def read_csv(response, delimiter=","):
    text = response.get_data().decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :]), delimiter=delimiter))


def test_csv_has_bom_header_and_norwegian_letters(
    app, signed_in, create_event, create_registration
):
    start = datetime(2030, 5, 5, 12, tzinfo=UTC)
    event = create_event(
        slug="akson-stormote",
        title="Akson stormøte",
        starts_at=start,
        ends_at=start + timedelta(hours=1, minutes=30),
    )
    aase = create_registration(
        event,
        name="Åse Ærø Øvrebø",
        email="aase@baerum.kommune.no",
        role="kommunedirektor",
        municipality="3024",
        organisation="Bærum kommune",
    )
    backdate(app, aase, datetime(2020, 5, 4, 11, 5, tzinfo=UTC))

    response = signed_in.get("/organiser/events/akson-stormote/participants.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    # Named after the event and its date, so downloads of several events stay apart.
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="deltakere-akson-stormote-2030-05-05.csv"'
    )
    rows = read_csv(response)
    assert rows[0] == HEADER
    # 11:05 UTC on 4 May is 13:05 summer time in Oslo.
    assert rows[1] == [
        "Åse Ærø Øvrebø",
        "aase@baerum.kommune.no",
        "Kommunedirektør/rådmann",
        "3024",
        "Bærum",
        "Viken",
        "Bærum kommune",
        "Påmeldt",
        "2020-05-04 13:05",
        "",
        "",
        "Akson stormøte",
        "2030-05-05",
    ]


def test_csv_semicolon_on_request(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event, organisation="Helse; omsorg")

    response = signed_in.get(f"/organiser/events/{event.slug}/participants.csv?sep=semicolon")

    text = response.get_data().decode("utf-8")
    assert text.splitlines()[0] == BOM + ";".join(HEADER)
    rows = read_csv(response, delimiter=";")
    assert rows[1][6] == "Helse; omsorg"  # quoted, so the semicolon stays inside the cell
    assert len(rows[1]) == len(HEADER)


def test_csv_neutralises_formulas_but_keeps_numbers(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(
        event, name='=HYPERLINK("http://evil.test","Kari")', organisation="+47 900 00 000"
    )
    create_registration(event, name="@SUM(A1)", email="ola@kommune.no", organisation="-2+3")
    create_registration(event, name="Per", email="per@kommune.no", organisation="+47 12345678")

    rows = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))

    assert rows[1][0] == '\'=HYPERLINK("http://evil.test","Kari")'
    assert rows[1][6] == "+47 900 00 000"
    assert rows[2][0] == "'@SUM(A1)"
    assert rows[2][6] == "'-2+3"
    assert rows[3][6] == "+47 12345678"


def test_csv_follows_the_filters_and_the_event_zone_in_winter(
    app, signed_in, create_event, create_registration
):
    event = create_event()
    kari = create_registration(
        event, name="Kari", email="kari@oslo.kommune.no", municipality="0301"
    )
    backdate(app, kari, datetime(2020, 1, 15, 8, 30, tzinfo=UTC))
    create_registration(
        event, name="Ola", email="ola@bergen.kommune.no", municipality="4601", role="kommunalsjef"
    )
    cancelled = create_registration(
        event, name="Per", email="per@bergen.kommune.no", municipality="4601"
    )
    cancel(app, cancelled)

    everyone = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))
    bergen = read_csv(
        signed_in.get(f"/organiser/events/{event.slug}/participants.csv?county=46&status=confirmed")
    )

    assert [row[0] for row in everyone[1:]] == ["Kari", "Ola", "Per"]
    assert everyone[1][8] == "2020-01-15 09:30"  # UTC+1 in winter
    assert everyone[3][7] == "Avbestilt"
    assert [row[0] for row in bergen[1:]] == ["Ola"]
    assert bergen[1][2] == "Kommunalsjef"


def test_csv_is_streamed(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event)

    response = signed_in.get(f"/organiser/events/{event.slug}/participants.csv")

    assert response.is_streamed
    assert "Content-Length" not in response.headers


def test_csv_of_an_empty_event_is_just_the_header(signed_in, create_event):
    event = create_event()

    rows = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))

    assert rows == [HEADER]


def test_csv_of_an_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/participants.csv").status_code == 404


def test_csv_is_in_english_for_an_english_reader(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event)

    rows = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv?lang=en"))

    assert rows[0][:2] == ["Name", "Email"]
    assert (rows[1][2], rows[1][7]) == ("Mayor", "Registered")


# --- XLSX export ------------------------------------------------------------------------------


def read_xlsx(response):
    assert response.status_code == 200
    data = response.get_data()
    response.close()  # closes the temporary file, as the WSGI server does
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_xlsx_cells_are_typed(app, signed_in, create_event, create_registration):
    event = create_event(slug="akson-stormote")
    kari = create_registration(
        event,
        name="=1+1",
        email="kari@kommune.no",
        municipality="0301",
        organisation="+47 900 00 000",
    )
    backdate(app, kari, datetime(2020, 5, 4, 11, 5, tzinfo=UTC))

    response = signed_in.get("/organiser/events/akson-stormote/participants.xlsx")

    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=deltakere-akson-stormote-{local_day(event)}.xlsx"
    )
    sheet = read_xlsx(response)
    assert [cell.value for cell in sheet[1]] == HEADER
    name, email, role, number, municipality, county, organisation, status, when = sheet[2][:9]
    # A formula in a name stays text: the cell is a string, not a formula ("f").
    assert (name.value, name.data_type) == ("=1+1", "s")
    assert (number.value, number.data_type) == ("0301", "s")
    assert (organisation.value, organisation.data_type) == ("+47 900 00 000", "s")
    assert (role.value, status.value) == ("Ordfører", "Påmeldt")
    assert (municipality.value, county.value) == ("Oslo", "Oslo")
    # A real date cell holding Oslo wall-clock time, shown as a date.
    assert when.is_date
    assert when.value == datetime(2020, 5, 4, 13, 5)
    assert when.number_format == "yyyy-mm-dd hh:mm"
    title, day = sheet[2][11:13]
    assert (title.value, title.data_type) == (event.title, "s")
    assert day.is_date and day.value.date().isoformat() == local_day(event)
    assert day.number_format == "yyyy-mm-dd"


def test_xlsx_cannot_be_given_a_formula_through_rich_text_markup(
    signed_in, create_event, create_registration
):
    # XlsxWriter's constant-memory mode would copy a value that starts with <r> and ends
    # with </r> into the sheet unescaped: this name would add a live formula cell in B2.
    name = '<r><t>x</t></r></is></c><c r="B2"><f>HYPERLINK("http://evil.test","x")</f></c><r>'
    name += "<t>y</t></r>"
    event = create_event()
    create_registration(event, name=name)

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx"))

    assert (sheet["A2"].value, sheet["A2"].data_type) == (name, "s")
    assert sheet["B2"].value == "kari@kommune.no"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_has_frozen_header_and_autofilter(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event, name="Kari", email="kari@kommune.no")
    create_registration(event, name="Ola", email="ola@kommune.no")

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx"))

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M3"
    assert sheet.column_dimensions["B"].width >= len("kari@kommune.no")
    assert sheet.max_row == 3


def test_xlsx_follows_the_filters(signed_in, create_event, create_registration):
    event = create_event()
    create_registration(event, name="Kari Ærlig", email="kari@kommune.no", organisation="Helse Øst")
    create_registration(event, name="Ola", email="ola@kommune.no", role="kommunalsjef")

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx?q=ærlig"))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Kari Ærlig"]


def test_xlsx_of_an_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/participants.xlsx").status_code == 404


@pytest.mark.parametrize("suffix", ["participants.csv", "participants.xlsx"])
def test_exports_require_login(client, create_event, create_registration, suffix):
    event = create_event()
    create_registration(event)

    response = client.get(f"/organiser/events/{event.slug}/{suffix}")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/organiser/login")
    assert b"kari@kommune.no" not in response.get_data()
