"""The municipalities page: each municipality's official language form, by county and form,
changed with one CSRF-protected form (all or nothing), for logged-in organisers only."""

from __future__ import annotations

import re

import pytest

from tests.support import form_token, within
from webinars.extensions import db
from webinars.models import Municipality

pytestmark = pytest.mark.usefixtures("restore_register")


def forms(app, *numbers: str) -> list[str]:
    with within(app):
        return [db.session.get(Municipality, number).language for number in numbers]


def selected(page: str, number: str) -> str:
    select = re.search(
        rf'<select id="language-{number}" name="language-{number}">(.*?)</select>', page, re.S
    )
    assert select, f"no select for {number}"
    return re.search(r'<option value="(\w+)" selected>', select.group(1)).group(1)


def test_only_organisers_see_it(client):
    response = client.get("/organiser/municipalities")
    assert response.status_code == 302 and "/organiser/login" in response.headers["Location"]
    assert client.post("/organiser/municipalities", data={"language-4621": "nn"}).status_code in (
        302,
        400,
    )


def test_the_list_is_filtered_by_county_and_form(app, signed_in):
    page = signed_in.get("/organiser/municipalities?county=46").text
    assert "Voss" in page and "Bergen" in page and "Bodø" not in page
    assert selected(page, "4621") == "neutral"
    assert ">Nøytral</dt><dd>356</dd>" in page

    signed_in.post(
        "/organiser/municipalities?county=46",
        data={"csrf_token": form_token(page), "language-4621": "nn"},
    )
    page = signed_in.get("/organiser/municipalities?language=nn").text
    assert "Voss" in page and "Bergen" not in page


def test_changing_forms_saves_them_and_keeps_the_filters(app, signed_in):
    page = signed_in.get("/organiser/municipalities?county=46").text
    data = {"csrf_token": form_token(page), "language-4621": "nn", "language-4601": "neutral"}

    response = signed_in.post("/organiser/municipalities?county=46", data=data)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/organiser/municipalities?county=46")
    page = signed_in.get(response.headers["Location"]).text
    assert "Målformen er endret for 1 kommune." in page
    assert selected(page, "4621") == "nn" and selected(page, "4601") == "neutral"
    assert forms(app, "4621", "4601") == ["nn", "neutral"]


def test_a_bad_value_stores_nothing(app, signed_in):
    token = form_token(signed_in.get("/organiser/municipalities").text)
    data = {"csrf_token": token, "language-4621": "nn", "language-0301": "samisk"}

    response = signed_in.post("/organiser/municipalities", data=data)

    assert response.status_code == 422
    assert "Ingenting ble lagret: ukjent kommune eller målform for 0301." in response.text
    assert forms(app, "4621", "0301") == ["neutral", "neutral"]


def test_without_the_csrf_token_nothing_is_stored(app, signed_in):
    response = signed_in.post("/organiser/municipalities", data={"language-4621": "nn"})
    assert response.status_code == 400
    assert forms(app, "4621") == ["neutral"]


def test_the_page_in_nynorsk(signed_in):
    page = signed_in.get("/organiser/municipalities?county=46&lang=nn").text
    assert "<h1>Kommunar og målform</h1>" in page
    assert '<option value="nn">nynorsk</option>' in page
    assert "Lagre målformene" in page


def test_a_crafted_form_is_refused(app, signed_in):
    token = form_token(signed_in.get("/organiser/municipalities").text)
    for data in (
        {"language-<b>x</b>": "nn"},
        {f"language-{n:04d}": "nn" for n in range(101)},
    ):
        response = signed_in.post("/organiser/municipalities", data={"csrf_token": token, **data})
        assert response.status_code == 400
        assert "<b>x</b>" not in response.text
    assert forms(app, "0301") == ["neutral"]
