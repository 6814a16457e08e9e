"""The `flask --app wsgi …` commands: municipalities, seed, mail, registrations."""

import csv
import os
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from webinars import mail, services
from webinars.extensions import db
from webinars.models import (
    Event,
    Material,
    Municipality,
    OutboxMessage,
    Registration,
    utcnow,
)
from webinars.municipalities import read_register

OSLO = ZoneInfo("Europe/Oslo")
ROOT = Path(__file__).resolve().parent.parent
SLUGS = ["akson-stormote", "akson-webinar-1", "akson-webinar-2", "akson-webinar-3"]


pytestmark = pytest.mark.usefixtures("restore_register")


def manage_token(message: OutboxMessage) -> str:
    """The personal link's token, as the recipient reads it in the plain-text part."""
    body = mail.compose(message).get_body(("plain",))
    return re.search(r"/r/([A-Za-z0-9_-]+)", body.get_content()).group(1)


def modified_register(path: Path) -> Path:
    """The 2020 register with Oslo renamed, Bindal (1811) gone and a new municipality."""
    rows = [r for r in read_register() if r["number"] != "1811"]
    for row in rows:
        if row["number"] == "0301":
            row["name"], row["population"] = "Oslo kommune", 700_000
    rows.append(
        {
            "number": "1899",
            "name": "Nykommune",
            "county_number": "18",
            "county_name": "Nordland",
            "population": 1234,
            "health_region": "Nord",
        }
    )
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- municipalities load ------------------------------------------------------------------


def test_municipalities_load_updates_adds_and_retires(runner, create_event, tmp_path):
    event = create_event()
    services.register(
        event, name="Kari", email="kari@bindal.no", role="ordforer", municipality="1811"
    )
    result = runner.invoke(
        args=["municipalities", "load", str(modified_register(tmp_path / "n.csv"))]
    )
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated, 1 no longer listed" in result.output

    db.session.expire_all()
    oslo = db.session.get(Municipality, "0301")
    assert (oslo.name, oslo.population) == ("Oslo kommune", 700_000)
    assert db.session.get(Municipality, "1899").active
    assert not db.session.get(Municipality, "1811").active
    registration = db.session.scalar(select(Registration))
    assert (registration.municipality_number, registration.municipality.name) == ("1811", "Bindal")
    assert registration.status == "confirmed"


def test_municipalities_load_of_a_broken_file_changes_nothing(runner, tmp_path):
    path = tmp_path / "broken.csv"
    rows = [r for r in read_register() if r["number"] != "1811"]
    lines = ["number,name,county_number,county_name,population,health_region"]
    lines += [",".join(str(v) for v in r.values()) for r in rows]
    lines.append("9999,Feilby,99,Ingen,mange,Nord")  # population is not a number
    path.write_text("\n".join(lines), encoding="utf-8")

    result = runner.invoke(args=["municipalities", "load", str(path)])
    assert result.exit_code != 0
    assert "Error: line 357: population 'mange'" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert db.session.get(Municipality, "1811").active
    assert db.session.get(Municipality, "9999") is None
    assert db.session.scalar(select(func.count()).where(Municipality.active)) == 356


def test_municipalities_load_of_a_missing_file(runner, tmp_path):
    result = runner.invoke(args=["municipalities", "load", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_municipalities_load_from_the_real_command_line(db_url, app, tmp_path):
    path = modified_register(tmp_path / "n.csv")
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "municipalities", "load", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 added, 1 updated, 1 no longer listed" in done.stdout
    db.session.expire_all()
    assert db.session.get(Municipality, "0301").name == "Oslo kommune"


# --- seed akson ---------------------------------------------------------------------------


def _events() -> dict[str, Event]:
    return {e.slug: e for e in db.session.scalars(select(Event))}


def _snapshot() -> list:
    """Every column of every event and material, to prove a second run changes nothing."""
    db.session.expire_all()
    events = db.session.execute(select(Event.__table__).order_by(Event.id)).mappings().all()
    materials = db.session.execute(select(Material.__table__).order_by(Material.id)).mappings()
    return [dict(row) for row in events] + [dict(row) for row in materials.all()]


def test_seed_akson_creates_the_programme_once(runner):
    first = runner.invoke(args=["seed", "akson"])
    assert first.exit_code == 0, first.output
    assert sorted(_events()) == SLUGS
    before = _snapshot()

    second = runner.invoke(args=["seed", "akson"])
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output
    assert _snapshot() == before
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356


def test_seed_akson_places_the_programme_in_the_future(runner):
    assert runner.invoke(args=["seed", "akson"]).exit_code == 0
    events = _events()
    meeting = events["akson-stormote"]
    day = utcnow().astimezone(OSLO).date() + timedelta(days=14)
    assert meeting.local_start.replace(tzinfo=None) == datetime.combine(day, time(14, 0))
    assert meeting.local_end.replace(tzinfo=None) == datetime.combine(day, time(15, 30))
    deadline = meeting.deadline.astimezone(OSLO)
    assert (deadline.date(), deadline.time()) == (day - timedelta(days=1), time(23, 59))
    assert meeting.registration_open()
    starts = [events[slug].starts_at for slug in SLUGS]
    assert starts == sorted(starts) and starts[1] - starts[0] > timedelta(days=6)
    for event in events.values():
        assert event.status == "published"
        assert event.join_url.startswith("https://")
        assert event.registration_open()


def test_seed_akson_with_original_dates(runner):
    assert runner.invoke(args=["seed", "akson", "--original-dates"]).exit_code == 0
    events = _events()
    meeting = events["akson-stormote"]
    assert meeting.starts_at == datetime(2020, 5, 5, 12, 0, tzinfo=ZoneInfo("UTC"))
    assert meeting.ends_at == datetime(2020, 5, 5, 13, 30, tzinfo=ZoneInfo("UTC"))
    deadline = meeting.deadline.astimezone(OSLO)
    assert deadline.date() == date(2020, 5, 4) and deadline.time() >= time(23, 59)
    assert meeting.deadline < meeting.starts_at
    assert meeting.kind == "meeting"
    assert meeting.region_list == ["Nord", "Vest", "Sør-Øst"]
    assert "Ordførere, kommunedirektører" in meeting.target_group
    assert "KS" in meeting.organiser_name and "e-helse" in meeting.organiser_name
    assert all(e.join_url for e in events.values())
    assert not meeting.registration_open()


# --- mail send ----------------------------------------------------------------------------


def test_mail_send_delivers_what_is_due_and_exits(mail_app, smtp, create_event):
    event = create_event()
    for n in range(3):
        services.register(
            event,
            name=f"Person {n}",
            email=f"p{n}@kommune.no",
            role="ordforer",
            municipality="0301",
        )
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "3 sent" in result.output
    assert sorted(env.rcpt_tos[0] for env, _ in smtp.messages) == [
        "p0@kommune.no",
        "p1@kommune.no",
        "p2@kommune.no",
    ]
    statuses = db.session.scalars(select(OutboxMessage.status)).all()
    assert statuses == ["sent"] * 3

    again = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert "0 sent" in again.output
    assert len(smtp.messages) == 3


# --- registrations anonymise --------------------------------------------------------------


def test_registrations_anonymise_blanks_old_registrations_only(runner, create_event):
    long_ago = utcnow() - timedelta(days=200)
    old = create_event(starts_at=long_ago, ends_at=long_ago + timedelta(hours=1))
    recent = create_event()
    services.register(
        old,
        name="Ola Gammel",
        email="ola@kommune.no",
        role="ordforer",
        municipality="0301",
        organisation="Oslo kommune",
        now=long_ago - timedelta(days=3),
    )
    services.register(
        recent, name="Kari Ny", email="kari@kommune.no", role="ordforer", municipality="0301"
    )
    token = manage_token(
        db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    )
    assert services.find_by_token(token) is not None

    result = runner.invoke(args=["registrations", "anonymise"])
    assert result.exit_code == 0, result.output
    assert "1 registrations anonymised" in result.output

    db.session.expire_all()
    gone, kept = db.session.scalars(select(Registration).order_by(Registration.id)).all()
    assert (gone.name, gone.organisation) == ("", "")
    assert "ola" not in gone.email and gone.anonymised_at is not None
    assert (gone.municipality_number, gone.role, gone.status) == ("0301", "ordforer", "confirmed")
    assert services.find_by_token(token) is None
    assert (kept.name, kept.email, kept.anonymised_at) == ("Kari Ny", "kari@kommune.no", None)
    assert "0 registrations" in runner.invoke(args=["registrations", "anonymise"]).output
