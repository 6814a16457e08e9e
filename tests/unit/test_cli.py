"""The `flask --app wsgi …` commands: municipalities, seed, mail, registrations, organisers.

Each command runs in an app context of its own, as on the command line; the tests read
the database afterwards in another (`within`).
"""

import csv
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from tests.support import form_token, outbox, within
from webinars import accounts, registrations
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, Municipality, Organiser, OutboxMessage, Registration, utcnow
from webinars.municipalities import read_register

ROOT = Path(__file__).resolve().parent.parent.parent
SLUGS = ["akson-stormote", "akson-webinar-1", "akson-webinar-2", "akson-webinar-3"]
PASSWORD = "korrekt hest batteri"


pytestmark = pytest.mark.usefixtures("restore_register")


def first_manage_token(app) -> str:
    """The personal link's token in the first mail, as its recipient reads the plain text."""
    with within(app):
        first = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        body = messages.compose(first).get_body(("plain",))
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


def organiser(app, email: str = "ola@ks.no") -> Organiser | None:
    with within(app):
        found = db.session.scalar(select(Organiser).where(Organiser.email == email))
        if found is not None:
            db.session.expunge(found)
        return found


def log_in(client, email: str = "ola@ks.no", password: str = PASSWORD):
    token = form_token(client.get("/organiser/login").text)
    return client.post(
        "/organiser/login", data={"email": email, "password": password, "csrf_token": token}
    )


def login_path(response) -> str:
    return urlsplit(response.headers["Location"]).path


@pytest.fixture
def account(app):
    with within(app):
        return accounts.create_organiser("ola@ks.no", PASSWORD).id


# --- municipalities load ------------------------------------------------------------------


def test_municipalities_load_updates_adds_and_retires(
    app, runner, create_event, create_registration, tmp_path
):
    create_registration(create_event(), email="kari@bindal.no", name="Kari", municipality="1811")
    result = runner.invoke(
        args=["municipalities", "load", str(modified_register(tmp_path / "n.csv"))]
    )
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated, 1 no longer listed" in result.output

    with within(app):
        oslo = db.session.get(Municipality, "0301")
        assert (oslo.name, oslo.population) == ("Oslo kommune", 700_000)
        assert db.session.get(Municipality, "1899").active
        assert not db.session.get(Municipality, "1811").active
        registration = db.session.scalar(select(Registration))
        assert (registration.municipality_number, registration.municipality.name) == (
            "1811",
            "Bindal",
        )
        assert registration.status == Registration.CONFIRMED


def test_municipalities_load_of_a_broken_file_changes_nothing(app, runner, tmp_path):
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
    with within(app):
        assert db.session.get(Municipality, "1811").active
        assert db.session.get(Municipality, "9999") is None
        assert db.session.scalar(select(func.count()).where(Municipality.active)) == 356


def test_municipalities_load_reads_an_optional_language_column(app, runner, tmp_path):
    path = tmp_path / "languages.csv"
    lines = ["number,name,county_number,county_name,population,health_region,language"]
    for row in read_register():
        form = {"4621": "nynorsk", "0301": "nøytral", "1804": "nb"}.get(row["number"], "")
        lines.append(",".join([*(str(v) for v in row.values()), form]))
    path.write_text("\n".join(lines), encoding="utf-8")

    result = runner.invoke(args=["municipalities", "load", str(path)])

    assert result.exit_code == 0, result.output
    assert "0 added, 2 updated, 0 no longer listed" in result.output
    with within(app):
        forms = {n: db.session.get(Municipality, n).language for n in ("4621", "0301", "1804")}
    assert forms == {"4621": "nn", "0301": "neutral", "1804": "nb"}

    # A bad value: reported by its line, nothing stored (Voss stays nynorsk).
    path.write_text("\n".join(lines).replace(",nynorsk", ",samisk"), encoding="utf-8")
    result = runner.invoke(args=["municipalities", "load", str(path)])
    assert result.exit_code != 0
    voss_line = next(i for i, line in enumerate(lines, start=1) if line.startswith("4621,"))
    assert f"line {voss_line}: language 'samisk'" in result.output
    with within(app):
        assert db.session.get(Municipality, "4621").language == "nn"


def test_municipalities_load_of_a_missing_file(runner, tmp_path):
    result = runner.invoke(args=["municipalities", "load", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_municipalities_load_from_the_real_command_line(db_url, app, tmp_path):
    path = modified_register(tmp_path / "n.csv")
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "a-key-for-this-test-only"}
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
    with within(app):
        assert db.session.get(Municipality, "0301").name == "Oslo kommune"


# --- seed akson ---------------------------------------------------------------------------


def test_seed_akson_creates_the_programme_once_and_says_so(app, runner):
    first = runner.invoke(args=["seed", "akson"])
    assert first.exit_code == 0, first.output
    assert f"Created: {', '.join(SLUGS)}" in first.output

    second = runner.invoke(args=["seed", "akson"])
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output
    with within(app):
        assert sorted(db.session.scalars(select(Event.slug))) == SLUGS


def test_seed_akson_with_original_dates(app, runner):
    result = runner.invoke(args=["seed", "akson", "--original-dates"])
    assert result.exit_code == 0, result.output
    with within(app):
        meeting = db.session.scalar(select(Event).where(Event.slug == "akson-stormote"))
        assert meeting.starts_at == datetime(2020, 5, 5, 12, 0, tzinfo=UTC)


# --- mail send ----------------------------------------------------------------------------


def test_mail_send_delivers_what_is_due_and_exits(
    mail_app, smtp, create_event, create_registration
):
    event = create_event()
    for n in range(3):
        create_registration(event, email=f"p{n}@kommune.no", name=f"Person {n}")
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "3 sent" in result.output
    assert sorted(env.rcpt_tos[0] for env, _ in smtp.messages) == [
        "p0@kommune.no",
        "p1@kommune.no",
        "p2@kommune.no",
    ]
    assert [row.status for row in outbox(mail_app)] == ["sent"] * 3

    again = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert "0 sent" in again.output
    assert len(smtp.messages) == 3


# --- registrations anonymise --------------------------------------------------------------


def test_registrations_anonymise_blanks_old_registrations_only(
    app, runner, create_event, create_registration
):
    long_ago = utcnow() - timedelta(days=200)
    old = create_event(starts_at=long_ago, ends_at=long_ago + timedelta(hours=1))
    recent = create_event()
    create_registration(
        old,
        email="ola@kommune.no",
        name="Ola Gammel",
        organisation="Oslo kommune",
        now=long_ago - timedelta(days=3),
    )
    create_registration(recent, email="kari@kommune.no", name="Kari Ny")
    token = first_manage_token(app)
    with within(app):
        assert registrations.find_by_token(token) is not None

    result = runner.invoke(args=["registrations", "anonymise"])
    assert result.exit_code == 0, result.output
    assert "1 registrations anonymised" in result.output

    with within(app):
        gone, kept = db.session.scalars(select(Registration).order_by(Registration.id)).all()
        assert (gone.name, gone.organisation) == ("", "")
        assert "ola" not in gone.email and gone.anonymised_at is not None
        assert (gone.municipality_number, gone.role, gone.status) == (
            "0301",
            "ordforer",
            Registration.CONFIRMED,
        )
        assert registrations.find_by_token(token) is None
        assert (kept.name, kept.email, kept.anonymised_at) == ("Kari Ny", "kari@kommune.no", None)
    assert "0 registrations" in runner.invoke(args=["registrations", "anonymise"]).output


# --- organiser create and password --------------------------------------------------------


def test_create_asks_for_the_password_twice_and_stores_a_scrypt_hash(app, runner):
    result = runner.invoke(
        args=["organiser", "create", "Kari@KS.no"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "kari@ks.no" in result.output
    stored = organiser(app, "kari@ks.no")
    assert stored.password_hash.startswith("scrypt:")
    assert PASSWORD not in stored.password_hash
    assert check_password_hash(stored.password_hash, PASSWORD)


def test_create_refuses_when_the_confirmation_differs(app, runner):
    result = runner.invoke(
        args=["organiser", "create", "kari@ks.no"], input=f"{PASSWORD}\nnoe helt annet\n"
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert organiser(app, "kari@ks.no") is None


def test_create_reads_one_line_from_stdin(runner, client):
    result = runner.invoke(
        args=["organiser", "create", "kari@ks.no", "--password-stdin"],
        input=f"{PASSWORD}\nignored second line\n",
    )
    assert result.exit_code == 0, result.output
    assert log_in(client, "kari@ks.no").status_code == 303


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ola@ks.no", PASSWORD, "already exists"),
        ("kari@ks.no", "kort", "at least 10"),
        ("ikke-en-adresse", PASSWORD, "EMAIL"),
    ],
)
def test_create_refuses_duplicates_short_passwords_and_bad_addresses(
    app, runner, account, email, password, message
):
    result = runner.invoke(
        args=["organiser", "create", email, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code != 0
    assert message in result.output
    with within(app):
        assert db.session.scalar(select(func.count()).select_from(Organiser)) == 1


def test_password_command_ends_old_sessions_and_unlocks(app, runner, client, account):
    assert log_in(client).status_code == 303
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with within(app), pytest.raises(accounts.LoginFailed):
            accounts.authenticate("ola@ks.no", "feil passord her", client="127.0.0.1")
    result = runner.invoke(
        args=["organiser", "password", "ola@ks.no", "--password-stdin"],
        input="et nytt langt passord\n",
    )
    assert result.exit_code == 0, result.output
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    with within(app):
        assert accounts.failures(organiser(app)) == []
    assert log_in(client, password="et nytt langt passord").status_code == 303


# --- the campaign ---------------------------------------------------------------------------

DATA = ROOT / "tests" / "data"


def test_contacts_load_stores_good_rows_and_lists_bad_ones(app, runner, tmp_path):
    path = tmp_path / "kontakter.csv"
    path.write_text(
        "kommunenummer;navn;rolle;e-post\n0301;Kari;Ordfører;kari@oslo.no\n9999;X;ordforer;x@x.no\n",
        encoding="utf-8-sig",
    )

    result = runner.invoke(args=["contacts", "load", str(path)])

    assert result.exit_code == 1
    assert "line 3: ukjent kommunenummer «9999»" in result.output
    assert "1 added, 0 updated, 0 unchanged, 1 bad rows not stored" in result.output
    again = runner.invoke(args=["contacts", "load", str(DATA / "contacts-example.csv")])
    assert again.exit_code == 0 and "5 added" in again.output


def test_contacts_load_refuses_a_file_of_50_mb_before_reading_it(app, runner, tmp_path):
    path = tmp_path / "stor.csv"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)

    result = runner.invoke(args=["contacts", "load", str(path)])

    assert result.exit_code == 1 and "larger than 10 MB; nothing was stored" in result.output


def test_invitations_send_once_and_only_unreached(app, runner, create_contact):
    runner.invoke(args=["seed", "akson"])
    create_contact("0301", email="raymond@oslo.no")
    create_contact("4601", email="ola@bergen.no")
    with within(app):
        meeting = db.session.scalar(select(Event).where(Event.slug == "akson-stormote"))
        registrations.register(
            meeting, name="Kari", email="kari@oslo.no", role="ordforer", municipality="0301"
        )

    unreached = runner.invoke(args=["invitations", "send", "akson-stormote", "--only-unreached"])
    everyone = runner.invoke(args=["invitations", "send", "akson-stormote"])
    again = runner.invoke(args=["invitations", "send", "akson-stormote"])

    assert "1 invitations and 0 reminders queued (1 municipalities)" in unreached.output
    # Kari registered, so she became a contact; she is not invited to what she registered for.
    assert "1 invitations" in everyone.output and "0 invitations" in again.output
    assert runner.invoke(args=["invitations", "send", "finnes-ikke"]).exit_code == 1


def test_attendance_load_refuses_the_wrong_event_and_loads_with_any_date(app, runner):
    runner.invoke(args=["seed", "akson", "--original-dates"])
    report = str(DATA / "zoom-webinar-attendee-report.csv")

    wrong = runner.invoke(args=["attendance", "load", "akson-webinar-2", report])
    right = runner.invoke(args=["attendance", "load", "akson-webinar-1", report])

    assert (
        wrong.exit_code == 1
        and "12. mai 2020" in wrong.output
        and "Nothing was stored" in wrong.output
    )
    # Nobody registered in this test: every attendee is listed as not registered.
    assert right.exit_code == 0, right.output
    assert "zoom report: 3 attended, 0 matched a registration, 3 did not" in right.output
    assert "not registered: walkin@example.org" in right.output


def test_declarations_load_records_and_reports(app, runner, tmp_path):
    runner.invoke(args=["seed", "akson", "--original-dates"])
    path = tmp_path / "erklaeringer.csv"
    path.write_text(
        "municipality,signed_on,signed_by\n0301,2020-06-12,Raymond\n4601,2020-07-02\n5001,2020-06-01\n"
    )

    result = runner.invoke(args=["declarations", "load", str(path)])

    assert result.exit_code == 1
    assert (
        "2 added, 0 updated, 0 unchanged (1 after the deadline), 1 bad rows not stored"
        in result.output
    )
    assert "line 4:" in result.output
