"""What is built once and what HTTP caches may keep: public calendar files and feeds carry
validators and answer 304; every page is its visitor's own and never stored by a cache.

"Another worker" (the fixture in this folder's conftest) is a second app on the same
database, as a second gunicorn worker or a `flask` command is: it changes an event after
this worker has built (and cached) its files. How the pages are rendered once and filled
in per visitor: test_pages.py.
"""

import re
from datetime import timedelta

import pytest
from werkzeug.http import http_date

from tests.support import form_token, outbox, set_row, within
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, OutboxMessage, Programme, utcnow


def unfolded(response) -> str:
    """A calendar file's text with its folded lines joined."""
    return response.get_data(as_text=True).replace("\r\n ", "")


@pytest.fixture
def event(app, create_event, create_programme):
    """The meeting, in a programme, last changed a minute ago."""
    event = create_event(slug="stormote", title="Stormøte om Akson")
    programme = create_programme([event])
    set_row(app, event, updated_at=utcnow() - timedelta(minutes=1))
    set_row(app, programme, Programme, updated_at=utcnow() - timedelta(minutes=1))
    return event


FILES = ["/events/stormote/calendar.ics", "/calendar.ics", "/programmes/akson/calendar.ics"]


# --- public calendar files: validators, 304, no-cache -----------------------------------------


@pytest.mark.parametrize("path", FILES)
def test_public_files_carry_validators_and_answer_304(client, event, path):
    first = client.get(path)
    assert first.status_code == 200 and first.mimetype == "text/calendar"
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    # Kept by any cache, but asked about every time: a change is seen on the next poll.
    assert first.headers["Cache-Control"] == "no-cache"
    assert "Cookie" in first.headers["Vary"]

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).data == first.data
    earlier = http_date(event.created_at - timedelta(days=1))
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.head(path, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("path", FILES)
def test_every_worker_serves_the_same_bytes_under_the_same_etag(client, other_worker, event, path):
    here = client.get(path)
    there = other_worker.test_client().get(path)
    assert there.data == here.data
    assert there.headers["ETag"] == here.headers["ETag"]
    # So a calendar that polls both workers in turn gets its 304 from either.
    answer = other_worker.test_client().get(path, headers={"If-None-Match": here.headers["ETag"]})
    assert answer.status_code == 304


@pytest.mark.parametrize("path", FILES)
def test_a_change_by_another_worker_is_in_the_next_file(client, other_worker, event, path):
    before = client.get(path)  # this worker has built and kept the file
    assert b"Stormote flyttet" not in before.data

    set_row(other_worker, event, title="Stormote flyttet", location="Oslo rådhus")

    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert b"SUMMARY:Stormote flyttet" in after.data
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_an_event_unpublished_by_another_worker_leaves_the_feeds(
    client, other_worker, event, create_event
):
    webinar = create_event(slug="webinar", title="Webinar om erklæringen")
    set_row(other_worker, webinar, updated_at=utcnow() - timedelta(minutes=1))
    feed = client.get("/calendar.ics")
    assert "SUMMARY:Stormøte om Akson" in unfolded(feed)

    set_row(other_worker, event, status=Event.DRAFT)

    answer = client.get(
        "/calendar.ics", headers={"If-Modified-Since": feed.headers["Last-Modified"]}
    )
    # Modified since: the unpublished event's change counts, though it is no longer listed.
    assert answer.status_code == 200
    assert "Stormøte" not in unfolded(answer)
    assert "Webinar om erklæringen" in unfolded(answer)
    assert client.get("/events/stormote/calendar.ics").status_code == 404


def test_a_file_changed_this_second_has_no_last_modified_yet(client, app, event):
    """An HTTP date has whole seconds: sent now, it would also cover a change later in this
    second, which a calendar asking If-Modified-Since would then never see."""
    set_row(app, event, title="Endret nå")
    fresh = client.get("/events/stormote/calendar.ics")
    assert "Last-Modified" not in fresh.headers and fresh.headers["ETag"]
    set_row(app, event, updated_at=utcnow() - timedelta(seconds=2))
    assert "Last-Modified" in client.get("/events/stormote/calendar.ics").headers


def test_a_registration_leaves_the_public_files_as_they_were(client, event, register):
    files = {path: client.get(path).headers["ETag"] for path in FILES}
    assert register(event.slug).status_code == 303  # a seat is taken: the event's row changes
    for path, etag in files.items():
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304, path


def test_each_language_has_its_own_file(client, event):
    norwegian = client.get("/calendar.ics")
    english = client.get("/calendar.ics?lang=en")
    assert b"Mer informasjon og p" in norwegian.data
    assert b"More information" in english.data
    assert english.headers["ETag"] != norwegian.headers["ETag"]
    # The session now says English: a cache revalidating its Norwegian copy gets English.
    answer = client.get("/calendar.ics", headers={"If-None-Match": norwegian.headers["ETag"]})
    assert answer.status_code == 200 and b"More information" in answer.data


def test_the_registrants_own_file_is_never_stored(client, event, register, app):
    assert register(event.slug).status_code == 303
    path = _manage_path(app)
    invite = client.get(f"{path}/invite.ics")
    assert invite.status_code == 200
    assert invite.headers["Cache-Control"] == "no-store"
    assert "ETag" not in invite.headers
    assert client.get(path).headers["Cache-Control"] == "no-store"


def _manage_path(app) -> str:
    """The manage link the last confirmation carries."""
    with within(app):
        composed = messages.compose(db.session.get(OutboxMessage, outbox(app)[-1].id))
    plain = composed.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", plain).group(1)


# --- pages: per visitor, never from a shared cache --------------------------------------


def _page_facts(page) -> dict:
    return {
        "token": form_token(page.text),
        "lang": re.search(r'<html lang="(\w+)"', page.text).group(1),
        "flashes": re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', page.text),
        "options": len(re.findall(r'<option [^>]*value="\d{4}"', page.text)),
    }


def test_two_visitors_in_two_languages_get_their_own_page(app, event, create_event):
    norwegian, english = app.test_client(), app.test_client()
    english.get("/?lang=en")
    with norwegian.session_transaction() as session:
        session["_flashes"] = [("message", "Bare til den første")]

    first = norwegian.get("/events/stormote")
    second = english.get("/events/stormote")
    a, b = _page_facts(first), _page_facts(second)

    assert a["token"] != b["token"]
    assert (a["lang"], b["lang"]) == ("nb", "en")
    assert "Velg kommune" in first.text and "Choose municipality" in second.text
    assert a["flashes"] == ["Bare til den første"] and b["flashes"] == []
    assert a["options"] == b["options"] == 356
    for page in (first, second):
        assert page.headers["Cache-Control"] == "private"  # the browser's, never a proxy's
    # The message was shown once; the same visitor's next page has it no more.
    assert _page_facts(norwegian.get("/events/stormote"))["flashes"] == []
    # Each visitor's token is the one its own session accepts.
    assert _page_facts(norwegian.get("/events/stormote"))["token"] != b["token"]


def test_each_event_page_offers_its_own_municipalities(client, create_event, other_worker):
    north = create_event(slug="nord", eligible_regions="Nord")
    west = create_event(slug="vest", eligible_regions="Vest")
    nord, vest = client.get("/events/nord").text, client.get("/events/vest").text
    assert "Tromsø (Troms og Finnmark)" in nord and "Tromsø" not in vest
    assert "Bergen (Vestland)" in vest and "Bergen" not in nord

    # Another worker opens the northern event to Vest too: offered at once here.
    set_row(other_worker, north, eligible_regions="Nord,Vest")
    assert "Bergen (Vestland)" in client.get("/events/nord").text
    assert west.slug == "vest"


def test_an_events_file_is_not_modified_by_another_events_change(client, app, event, create_event):
    other = create_event(slug="webinar")
    set_row(app, other, updated_at=utcnow() - timedelta(minutes=1))
    first = client.get("/events/stormote/calendar.ics")
    set_row(app, other, title="Webinar, ny tittel", updated_at=utcnow() - timedelta(seconds=30))
    path = "/events/stormote/calendar.ics"
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    modified = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get(path, headers=modified).status_code == 304
    assert client.get("/calendar.ics", headers=modified).status_code == 200
