"""Loading a participant report on the organiser pages, and the Deltok column it fills."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import form_token

DATA = Path(__file__).resolve().parent.parent.parent / "data"
ZOOM = (DATA / "zoom-webinar-attendee-report.csv").read_bytes()


def upload(client, slug, data: bytes, **fields):
    token = form_token(client.get(f"/organiser/events/{slug}/attendance").text)
    return client.post(
        f"/organiser/events/{slug}/attendance",
        data={"csrf_token": token, "file": (io.BytesIO(data), "rapport.csv"), **fields},
        content_type="multipart/form-data",
    )


def deltok(client, slug) -> dict[str, str]:
    text = client.get(f"/organiser/events/{slug}/participants.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("Deltok")
    return {row[1]: row[column] for row in rows[1:]}


def test_a_zoom_report_fills_the_deltok_column(signed_in, create_event, create_registration):
    start = datetime(2020, 5, 12, 11, 0, tzinfo=UTC)
    event = create_event(slug="webinar-1", starts_at=start, ends_at=start + timedelta(hours=1))
    before = start - timedelta(days=2)
    create_registration(
        event, "kari.nordmann@bergen.kommune.example", municipality="4601", now=before
    )
    create_registration(event, "ikke.der@oslo.no", now=before)
    assert deltok(signed_in, "webinar-1") == {
        "kari.nordmann@bergen.kommune.example": "",
        "ikke.der@oslo.no": "",
    }

    response = upload(signed_in, "webinar-1", ZOOM)

    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"]).text
    assert "Rapporten er lest inn: 3 deltok, 1 av dem er funnet blant de påmeldte." in page
    assert "walkin@example.org" in page and "ola@vinje.kommune.example" in page
    assert deltok(signed_in, "webinar-1") == {
        "kari.nordmann@bergen.kommune.example": "ja",
        "ikke.der@oslo.no": "nei",
    }
    listing = signed_in.get("/organiser/events/webinar-1/participants").text
    assert 'ja <span class="muted">(88 minutter)</span>' in listing


def test_the_wrong_event_or_no_e_mail_column_gets_a_message(signed_in, create_event):
    start = datetime(2020, 5, 19, 11, 0, tzinfo=UTC)
    create_event(slug="webinar-2", starts_at=start, ends_at=start + timedelta(hours=1))

    wrong = upload(signed_in, "webinar-2", ZOOM)
    assert wrong.status_code == 422
    assert "Rapporten gjelder et møte 12. mai 2020" in wrong.text
    no_email = upload(signed_in, "webinar-2", b"name,phone\nKari,1\n")
    assert no_email.status_code == 422 and "Fant ingen kolonne med e-postadresser" in no_email.text
    assert (
        "Deltakerrapport lest inn"
        not in signed_in.get("/organiser/events/webinar-2/participants").text
    )
