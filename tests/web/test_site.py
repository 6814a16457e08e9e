"""App-wide routes: the health check and the error pages (webinars/site.py)."""

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.support import within
from webinars.extensions import db
from webinars.models import Registration


def test_healthz(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_healthz_says_error_when_the_database_does_not_answer(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "error"}


def test_missing_page_is_friendly_and_norwegian(client):
    page = client.get("/finnes/ikke")
    assert page.status_code == 404
    assert "Fant ikke siden" in page.text and "Til forsiden" in page.text
    assert '<html lang="nb">' in page.text


def test_error_pages_follow_the_chosen_language(client):
    page = client.get("/finnes/ikke?lang=en")
    assert page.status_code == 404
    assert '<html lang="en">' in page.text
    assert "Fant ikke siden" not in page.text


def test_a_wrong_method_is_refused_in_words(client):
    page = client.delete("/healthz")
    assert page.status_code == 405
    assert "Ikke tillatt" in page.text


def test_a_post_without_its_form_token_stores_nothing(app, client, create_event):
    event = create_event()
    page = client.post(
        f"/events/{event.slug}/register",
        data={
            "name": "Kari",
            "email": "kari@kommune.no",
            "role": "ordforer",
            "municipality": "0301",
        },
    )
    assert page.status_code == 400
    assert "Skjemaet var utløpt" in page.text
    with within(app):
        assert db.session.scalar(select(func.count(Registration.id))) == 0
