"""Loading contacts on the organiser pages: good rows stored, bad rows listed by line, files
that cannot be read refused with a message, an oversized one refused by size."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from tests.support import MULTIPART, form_token, multipart, within
from webinars.extensions import db
from webinars.models import Contact

DATA = Path(__file__).resolve().parent.parent.parent / "data"


def upload(client, data: bytes, name: str = "kontakter.csv"):
    token = form_token(client.get("/organiser/contacts").text)
    return client.post(
        "/organiser/contacts",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def stored(app) -> int:
    with within(app):
        return db.session.scalar(select(func.count(Contact.id)))


def test_a_good_file_is_loaded_and_listed(app, signed_in):
    response = upload(signed_in, (DATA / "contacts-example.csv").read_bytes())

    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"]).text
    assert "Kontaktene er lest inn: 5 nye, 0 oppdatert, 0 uendret." in page
    assert "Raymond Johansen" in page and "Kommunedirektør/rådmann" in page
    assert stored(app) == 5


def test_bad_rows_are_listed_with_their_line_and_the_good_ones_stored(app, signed_in):
    data = (
        "municipality,name,role,email\n"
        "0301,Kari,ordforer,kari@oslo.no\n"
        "9999,X,ordforer,x@x.no\n"
        "4601,Ola,ordforer,ikke-en-adresse\n"
    )

    response = upload(signed_in, data.encode())

    assert response.status_code == 200
    assert "2 linjer ble ikke lagret:" in response.text
    assert "Linje 3: ukjent kommunenummer «9999»" in response.text
    assert "Linje 4: ugyldig e-postadresse «ikke-en-adresse»" in response.text
    assert stored(app) == 1


def test_a_file_that_cannot_be_read_gets_a_message(app, signed_in):
    response = upload(signed_in, b"")
    assert response.status_code == 422 and "Filen er tom." in response.text
    response = upload(
        signed_in, "municipality,name,role,email\n0301,Bø,ordforer,b@x.no\n".encode("cp1252")
    )
    assert response.status_code == 422 and "Lagre den som «CSV UTF-8»" in response.text
    assert stored(app) == 0


def test_a_file_of_50_mb_is_refused_by_its_size(app, signed_in):
    token = form_token(signed_in.get("/organiser/contacts").text)

    response = signed_in.post(
        "/organiser/contacts",
        data=multipart({"csrf_token": token}, {"file": ("stor.csv", b"0" * (50 * 1024 * 1024))}),
        content_type=MULTIPART,
    )

    assert response.status_code == 413
    assert "Det du sendte er større enn vi tar imot, så ingenting ble lagret." in response.text
    assert stored(app) == 0
