"""Contacts files: every row checked, bad rows reported by line and stored nowhere, good rows
stored, loading again updates; registrants become contacts; anonymising forgets them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webinars import contacts, csvfiles, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Contact, Event, utcnow

DATA = Path(__file__).resolve().parent.parent / "data"


def _all() -> dict[str, Contact]:
    db.session.expire_all()
    return {c.email: c for c in db.session.scalars(select(Contact))}


def test_the_sample_file_loads_roles_as_keys_and_labels(ctx):
    loaded = contacts.load((DATA / "contacts-example.csv").read_bytes())

    assert (loaded.added, loaded.updated, loaded.bad) == (5, 0, [])
    stored = _all()
    assert stored["nils.nilsen@bergen.kommune.example"].role == "kommunedirektor"
    assert stored["per.hansen@bodo.kommune.example"].role == "varaordforer"
    assert stored["ola@vinje.kommune.example"].municipality_number == "3825"
    assert {c.source for c in stored.values()} == {Contact.IMPORTED}


def test_norwegian_headers_semicolons_a_bom_and_short_numbers(ctx):
    data = (
        "\ufeffkommunenummer;navn;rolle;e-post\r\n"
        "301;Kari Nordmann;Ordfører;Kari@Oslo.Kommune.NO\r\n"
    )

    loaded = contacts.load(data.encode("utf-8"))

    assert loaded.added == 1
    kari = _all()["kari@oslo.kommune.no"]
    assert (kari.municipality_number, kari.name, kari.role) == ("0301", "Kari Nordmann", "ordforer")


def test_loading_again_updates_and_never_duplicates(ctx):
    header = "municipality,name,role,email\n"
    first = header + "0301,Kari,ordforer,kari@oslo.no\n4601,Ola,ordforer,ola@bergen.no\n"
    second = (
        header + "0301,Kari Nordmann,varaordforer,KARI@oslo.no\n4601,Ola,ordforer,ola@bergen.no\n"
    )

    contacts.load(first.encode())
    loaded = contacts.load(second.encode())

    assert (loaded.added, loaded.updated, loaded.unchanged) == (0, 1, 1)
    assert db.session.scalar(select(func.count(Contact.id))) == 2
    assert _all()["kari@oslo.no"].role == "varaordforer"


def test_bad_rows_are_reported_by_line_and_stored_nowhere(ctx):
    data = (
        "municipality,name,role,email\n"
        "0301,Kari,ordforer,kari@oslo.no\n"  # line 2: good
        "9999,Ukjent,ordforer,ukjent@x.no\n"  # line 3: unknown municipality
        "5001,Trond,ordforer,trond@trondheim.no\n"  # line 4: good (contacts are national)
        "4601,Ola,ordforer,ola(at)bergen.no\n"  # line 5: malformed e-mail
        "4601,Per,sjefen,per@bergen.no\n"  # line 6: unknown role
        "\n"  # line 7: blank, skipped
        "1103,Kari igjen,ordforer,KARI@oslo.no\n"  # line 8: duplicate of line 2
        "1103,,ordforer,tom@stavanger.no\n"  # line 9: no name
        "1103,Bidi\u202eflip,ordforer,bidi@stavanger.no\n"  # line 10: a format character
    )

    loaded = contacts.load(data.encode())

    reasons = {row.line: str(row.reason) for row in loaded.bad}
    assert sorted(reasons) == [3, 5, 6, 8, 9, 10]
    assert "9999" in reasons[3]
    assert "ola(at)bergen.no" in reasons[5]
    assert "sjefen" in reasons[6] and "ordforer" in reasons[6]
    assert "linje 2" in reasons[8]
    assert sorted(_all()) == ["kari@oslo.no", "trond@trondheim.no"]
    assert _all()["kari@oslo.no"].municipality_number == "0301"  # not the duplicate's


def test_addresses_are_kept_as_our_mail_sends_to_them(ctx):
    """The same rule as the forms: no æøå before the @, a Norwegian domain as punycode."""
    data = (
        "municipality,name,role,email\n"
        "0301,Kåre,ordforer,kåre@oslo.kommune.no\n"  # line 2: SMTP cannot carry it
        "1867,Kari,ordforer,Kari@Bø.Kommune.no\n"  # line 3: stored in ASCII
    )

    loaded = contacts.load(data.encode())

    assert [row.line for row in loaded.bad] == [2]
    assert "kåre@oslo.kommune.no" in str(loaded.bad[0].reason)
    assert sorted(_all()) == ["kari@xn--b-5ga.kommune.no"]


def test_a_utf16_file_with_a_bom_is_read_tabs_and_all(ctx):
    data = "municipality\tname\trole\temail\r\n4601\tÅse Ærø\tordforer\taase@bergen.no\r\n"

    loaded = contacts.load(data.encode("utf-16"))

    assert loaded.added == 1 and _all()["aase@bergen.no"].name == "Åse Ærø"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "tom"),
        (b"   \r\n\r\n", "tom"),
        (b"municipality,name,role,email\r\n", "bare overskriftslinjen"),
        ("municipality,name,role,email\n0301,Bø,ordforer,b@x.no\n".encode("cp1252"), "UTF-8"),
        ("municipality,name,role,email\n".encode("utf-16-le"), "tekstfil"),
        (b"kommune,navn\n0301,Kari\n", "role, email"),
        (b"municipality,name,role,email\n" + b"x" * (csvfiles.MAX_BYTES + 1), "for stor"),
    ],
    ids=["empty", "blank", "header only", "windows-1252", "utf-16 without bom", "columns", "50 MB"],
)
def test_a_file_that_cannot_be_read_is_refused_whole(ctx, data, message):
    with pytest.raises(csvfiles.FileError) as refused:
        contacts.load(data)

    assert message in str(refused.value.message)
    assert _all() == {}


def test_registrants_become_contacts_unless_known(
    ctx, create_event, create_registration, create_contact
):
    event = create_event()
    create_contact("4601", email="ola@bergen.no", name="Ola fra fil")
    create_registration(event, "kari@oslo.no", name="Kari Nordmann")
    create_registration(event, "ola@bergen.no", name="Ola", municipality="4601")

    stored = _all()
    assert (stored["kari@oslo.no"].source, stored["kari@oslo.no"].name) == (
        "registered",
        "Kari Nordmann",
    )
    assert (stored["ola@bergen.no"].source, stored["ola@bergen.no"].name) == (
        "imported",
        "Ola fra fil",
    )


def test_anonymising_forgets_contacts_known_only_from_registering(
    ctx, app, create_event, create_registration, create_contact
):
    start = utcnow() - timedelta(days=400)
    old = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    create_contact("4601", email="ola@bergen.no")
    with write_transaction():
        db.session.get(Event, old.id).status = Event.PUBLISHED
    registrations.register(
        db.session.get(Event, old.id),
        name="Kari",
        email="kari@oslo.no",
        role="ordforer",
        municipality="0301",
        by_organiser=True,
    )
    registrations.register(
        db.session.get(Event, old.id),
        name="Ola",
        email="ola@bergen.no",
        role="ordforer",
        municipality="4601",
        by_organiser=True,
    )

    registrations.anonymise_old_registrations(utcnow())

    assert sorted(_all()) == ["ola@bergen.no"]  # imported contacts stay


def test_unsubscribing_is_once(ctx, create_contact):
    contact = create_contact()

    assert contacts.unsubscribe(contact) is True
    assert contacts.unsubscribe(contact) is False
    assert _all()[contact.email].unsubscribed_at is not None
