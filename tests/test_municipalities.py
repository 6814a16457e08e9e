"""The municipality register: the shipped 2020 list and loading a newer one."""

import csv
from importlib import resources

import pytest
from sqlalchemy import func, select

from webinars import services
from webinars.extensions import db
from webinars.models import Municipality, Registration
from webinars.municipalities import RegisterError, load_register

HEADER = "number,name,county_number,county_name,population_2020,health_region\n"


pytestmark = pytest.mark.usefixtures("restore_register")


def shipped_rows() -> list[dict]:
    text = resources.files("webinars.data").joinpath("kommuner-2020.csv").read_text("utf-8-sig")
    return list(csv.DictReader(text.splitlines()))


def write_register(path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER.strip().split(","))
        writer.writeheader()
        writer.writerows(rows)


def test_shipped_register_has_every_2020_municipality(app):
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356
    outside = select(func.count(), func.sum(Municipality.population)).where(
        Municipality.health_region != "Midt-Norge", Municipality.active
    )
    assert tuple(db.session.execute(outside).one()) == (292, 4_633_640)
    oslo = db.session.get(Municipality, "0301")
    assert (oslo.name, oslo.county_name, oslo.health_region) == ("Oslo", "Oslo", "Sør-Øst")
    assert db.session.get(Municipality, "5001").health_region == "Midt-Norge"


def test_loading_a_newer_register_updates_adds_and_retires(app, create_event, tmp_path):
    event = create_event()
    services.register(
        event, name="Kari", email="kari@bindal.no", role="ordforer", municipality="1811"
    )
    rows = [r for r in shipped_rows() if r["number"] != "1811"]  # Bindal vanishes
    for row in rows:
        if row["number"] == "0301":
            row["name"], row["population_2020"] = "Oslo kommune", "700000"
    rows.append(
        {
            "number": "1899",
            "name": "Nykommune",
            "county_number": "18",
            "county_name": "Nordland",
            "population_2020": "1234",
            "health_region": "Nord",
        }
    )
    write_register(tmp_path / "new.csv", rows)

    assert load_register(tmp_path / "new.csv") == (1, 1, 1)
    db.session.commit()

    oslo = db.session.get(Municipality, "0301")
    assert (oslo.name, oslo.population) == ("Oslo kommune", 700_000)
    assert db.session.get(Municipality, "1899").active
    bindal = db.session.get(Municipality, "1811")
    assert bindal is not None and not bindal.active
    registration = db.session.scalar(select(Registration))
    assert registration.municipality.name == "Bindal"
    assert registration.status == "confirmed"


def test_loading_the_same_register_again_changes_nothing(app):
    assert load_register() == (0, 0, 0)


def test_retired_municipality_comes_back_when_listed_again(app, tmp_path):
    write_register(tmp_path / "new.csv", [r for r in shipped_rows() if r["number"] != "1811"])
    load_register(tmp_path / "new.csv")
    db.session.commit()
    assert load_register() == (0, 1, 0)
    assert db.session.get(Municipality, "1811").active


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("nummer;navn\n0301;Oslo\n", "missing columns"),
        (HEADER, "no municipalities"),
        ("", "missing columns"),
        (HEADER + "03x1,Oslo,03,Oslo,1,Sør-Øst\n", "line 2"),
        (HEADER + "0301,Oslo,03,Oslo,mange,Sør-Øst\n", "line 2"),
        (HEADER + "0301,Oslo,03,Oslo,1,Sør-Øst\n0301,Oslo,03,Oslo,1,Sør-Øst\n", "line 3"),
        (HEADER + "0301,,03,Oslo,1,Sør-Øst\n", "line 2"),
        (HEADER + "0301,Oslo,03,Oslo,1,Østlandet\n", "line 2"),
    ],
)
def test_broken_register_is_refused_with_a_clear_error(app, tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RegisterError, match=message):
        load_register(path)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356


def test_register_saved_as_latin1_is_refused(app, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes((HEADER + "0301,Oslo,03,Oslo,1,Sør-Øst\n").encode("latin-1"))
    with pytest.raises(RegisterError, match="UTF-8"):
        load_register(path)
