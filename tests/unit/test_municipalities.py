"""The municipality register: the shipped 2020 list, loading a newer one, and the choices
the forms offer from it."""

import csv
from importlib import resources
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webinars import create_app, municipalities, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Municipality, Registration
from webinars.municipalities import RegisterError, load_register

HEADER = "number,name,county_number,county_name,population_2020,health_region\n"
COUNTIES_2020 = [
    ("03", "Oslo"),
    ("11", "Rogaland"),
    ("15", "Møre og Romsdal"),
    ("18", "Nordland"),
    ("30", "Viken"),
    ("34", "Innlandet"),
    ("38", "Vestfold og Telemark"),
    ("42", "Agder"),
    ("46", "Vestland"),
    ("50", "Trøndelag"),
    ("54", "Troms og Finnmark"),
]


pytestmark = pytest.mark.usefixtures("restore_register")


def shipped_rows() -> list[dict]:
    text = resources.files("webinars.data").joinpath("kommuner-2020.csv").read_text("utf-8-sig")
    return list(csv.DictReader(text.splitlines()))


def write_register(path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER.strip().split(","))
        writer.writeheader()
        writer.writerows(rows)


def load(path=None) -> tuple[int, int, int]:
    """Load a register as the command does: in a write of its own."""
    with write_transaction():
        return load_register(path)


def test_shipped_register_has_every_2020_municipality(ctx):
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356
    outside = select(func.count(), func.sum(Municipality.population)).where(
        Municipality.health_region != "Midt-Norge", Municipality.active
    )
    assert tuple(db.session.execute(outside).one()) == (292, 4_633_640)
    oslo = db.session.get(Municipality, "0301")
    assert (oslo.name, oslo.county_name, oslo.health_region) == ("Oslo", "Oslo", "Sør-Øst")
    assert db.session.get(Municipality, "5001").health_region == "Midt-Norge"


def test_loading_a_newer_register_updates_adds_and_retires(ctx, create_event, tmp_path):
    event = create_event()
    registrations.register(
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

    assert load(tmp_path / "new.csv") == (1, 1, 1)

    db.session.expire_all()
    oslo = db.session.get(Municipality, "0301")
    assert (oslo.name, oslo.population) == ("Oslo kommune", 700_000)
    assert db.session.get(Municipality, "1899").active
    bindal = db.session.get(Municipality, "1811")
    assert bindal is not None and not bindal.active
    registration = db.session.scalar(select(Registration))
    assert registration.municipality.name == "Bindal"
    assert registration.status == Registration.CONFIRMED


def test_loading_the_same_register_again_changes_nothing(ctx):
    assert load() == (0, 0, 0)


def test_retired_municipality_comes_back_when_listed_again(ctx, tmp_path):
    write_register(tmp_path / "new.csv", [r for r in shipped_rows() if r["number"] != "1811"])
    load(tmp_path / "new.csv")
    assert load() == (0, 1, 0)
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
def test_broken_register_is_refused_with_a_clear_error(ctx, tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RegisterError, match=message):
        load(path)
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356


def test_register_saved_as_latin1_is_refused(ctx, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes((HEADER + "0301,Oslo,03,Oslo,1,Sør-Øst\n").encode("latin-1"))
    with pytest.raises(RegisterError, match="UTF-8"):
        load(path)


# --- what the forms offer -------------------------------------------------------------------


def test_region_and_county_choices_follow_the_active_register(ctx, tmp_path):
    regions, counties = municipalities.region_and_county_choices()
    assert regions == ["Nord", "Midt-Norge", "Vest", "Sør-Øst"]
    assert counties == COUNTIES_2020

    # Without Midt-Norge's municipalities its region and its two counties are not offered.
    write_register(
        tmp_path / "new.csv", [r for r in shipped_rows() if r["health_region"] != "Midt-Norge"]
    )
    assert load(tmp_path / "new.csv") == (0, 0, 64)
    regions, counties = municipalities.region_and_county_choices()
    assert regions == ["Nord", "Vest", "Sør-Øst"]
    assert counties == [c for c in COUNTIES_2020 if c[0] not in ("15", "50")]


# --- the picker's options -------------------------------------------------------------------


def shipped_choices() -> list[municipalities.Choice]:
    """Every municipality of the shipped register as the picker offers it."""
    return municipalities.choices(SimpleNamespace(**row) for row in municipalities.read_register())


def register_choices() -> dict[str, municipalities.Choice]:
    """The same, by number."""
    return {c.number: c for c in shipped_choices()}


def test_bilingual_names_are_labelled_norwegian_first_so_type_ahead_finds_them():
    offered = register_choices()
    assert offered["5441"].label == "Tana – Deatnu (Troms og Finnmark)"
    assert offered["5430"].label == "Kautokeino – Guovdageaidnu (Troms og Finnmark)"
    assert offered["1826"].label == "Hattfjelldal – Aarborte (Nordland)"
    assert offered["5426"].label == "Kåfjord – Gáivuotna – Kaivuono (Troms og Finnmark)"
    # Already Norwegian first: the order of the register stays.
    assert offered["5436"].label == "Porsanger – Porsáŋgu – Porsanki (Troms og Finnmark)"
    assert offered["0301"].label == "Oslo (Oslo)"
    # Every one of the 19 bilingual names starts with its Norwegian form.
    sami_and_kven = municipalities.name_languages()
    bilingual = [c for c in offered.values() if " – " in c.label]
    assert len(bilingual) == 19
    assert all(c.label.split(" – ")[0] not in sami_and_kven for c in bilingual)


def test_names_that_carry_their_county_are_not_given_it_twice():
    offered = register_choices()
    assert offered["1818"].label == "Herøy (Nordland)"
    assert offered["1515"].label == "Herøy (Møre og Romsdal)"
    assert offered["3018"].label == "Våler (Viken)"
    assert offered["3419"].label == "Våler (Innlandet)"
    assert not [c.label for c in offered.values() if c.label.count("(") != 1]


def test_every_name_form_is_searchable_without_case_or_diacritics():
    offered = register_choices()
    assert offered["5441"].search == "tana|deatnu"
    assert offered["5437"].search == "karasjok|karasjohka"  # Kárášjohka
    assert offered["5436"].search == "porsanger|porsangu|porsanki"  # Porsáŋgu
    assert offered["1818"].search == "heroy"  # the county suffix is not a name
    assert municipalities.fold("Aurskog-Høland") == "aurskog holand"
    assert municipalities.fold("  ÆRØ  Bø ") == "aero bo"


def test_options_are_in_norwegian_alphabetical_order():
    labels = [c.label for c in shipped_choices()]
    initials = "".join(dict.fromkeys(label[0] for label in labels))
    # Ø and Å come after Z (code points would put Å first); Sami-first names sort by their
    # Norwegian name, so Tana stands between Sørreisa and Time, not under D.
    assert initials.endswith("VØÅ")
    assert labels.index("Tana – Deatnu (Troms og Finnmark)") < labels.index("Time (Rogaland)")
    assert labels.index("Sørreisa (Troms og Finnmark)") < labels.index(
        "Tana – Deatnu (Troms og Finnmark)"
    )
    assert labels.index("Ørsta (Møre og Romsdal)") < labels.index("Ål (Viken)")


def test_options_carry_the_search_data_and_are_built_once_per_name():
    rows = [SimpleNamespace(number="5441", name="Deatnu - Tana", county_name="Troms og Finnmark")]
    [option] = municipalities.options(rows)
    assert option == ("5441", "Tana – Deatnu (Troms og Finnmark)", {"data-search": "tana|deatnu"})
    assert municipalities.options(rows)[0][2] is option[2]  # the cached choice, not a new one


# --- the official language form -------------------------------------------------------------


def with_languages(path, forms: dict[str, str]) -> None:
    """The shipped register with a language column: `forms` by number, the rest empty."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[*HEADER.strip().split(","), "language"])
        writer.writeheader()
        for row in shipped_rows():
            writer.writerow({**row, "language": forms.get(row["number"], "")})


def language_of(number: str) -> str:
    db.session.expire_all()
    return db.session.get(Municipality, number).language


def test_every_municipality_is_neutral_until_told_otherwise(ctx):
    # No list of the 2020 language decisions ships (see webinars/data/SOURCES.md).
    assert municipalities.language_counts() == {"nb": 0, "nn": 0, "neutral": 356}


def test_the_register_loads_language_forms_by_key_or_norwegian_label(ctx, tmp_path):
    forms = {"4621": "nn", "3805": "NB", "1804": "Nynorsk", "0301": "bokmål", "4601": "nøytral"}
    with_languages(tmp_path / "languages.csv", forms)

    assert load(tmp_path / "languages.csv") == (0, 4, 0)  # Bergen was neutral already

    assert [language_of(n) for n in forms] == ["nn", "nb", "nn", "nb", "neutral"]
    assert municipalities.language_counts() == {"nb": 2, "nn": 2, "neutral": 352}


def test_an_empty_language_cell_or_no_column_keeps_the_form(ctx, tmp_path):
    municipalities.set_languages({"4621": "nn"})
    with_languages(tmp_path / "languages.csv", {})
    assert load(tmp_path / "languages.csv") == (0, 0, 0)
    assert load() == (0, 0, 0)  # the shipped register has no language column
    assert language_of("4621") == "nn"


def test_bad_language_values_are_reported_by_line_and_nothing_is_stored(ctx, tmp_path):
    municipalities.set_languages({"4621": "nn"})
    # Lines 2 and 3 of the file: the header is line 1, then 0301 and 1101 in number order.
    with_languages(tmp_path / "languages.csv", {"0301": "norsk", "1101": "nb", "1103": "ny"})

    with pytest.raises(RegisterError) as refused:
        load(tmp_path / "languages.csv")

    assert "line 2: language 'norsk'" in str(refused.value)
    assert "line 4: language 'ny'" in str(refused.value)
    assert "line 3" not in str(refused.value)
    assert language_of("1101") == "neutral" and language_of("4621") == "nn"


def test_language_forms_are_set_all_or_none(ctx):
    assert municipalities.set_languages({"4621": "nn", "4601": "neutral"}) == 1
    with pytest.raises(municipalities.LanguageError) as refused:
        municipalities.set_languages({"0301": "nb", "9999": "nn", "1804": "samisk"})
    assert refused.value.numbers == ["1804", "9999"]  # no such municipality; no such form
    assert language_of("0301") == "neutral" and language_of("4621") == "nn"


def test_the_database_refuses_an_unknown_language_form(ctx):
    with pytest.raises(IntegrityError), write_transaction():
        db.session.get(Municipality, "0301").language = "samisk"


def rule(regions: str = "", counties: str = "") -> SimpleNamespace:
    """An eligibility rule, as an event or a programme carries it."""
    return SimpleNamespace(
        region_list=[r for r in regions.split(",") if r],
        county_list=[c for c in counties.split(",") if c],
    )


def labels(choices) -> list[tuple[str, str]]:
    return [(number, label) for number, label, _attributes in choices.options]


def numbers(choices) -> set[str]:
    return {number for number, _label, _attributes in choices.options}


def test_offered_is_the_same_rule_for_one_number(ctx):
    akson = rule("Nord,Vest,Sør-Øst")
    offered = numbers(municipalities.offered_choices(akson))
    for number in ("0301", "5001", "4601", "9999", "03011", "", "<b>", "0301 "):
        found = municipalities.offered(akson, number)
        assert (found is not None) == (number in offered), number
        assert found is None or found.number == number


def test_a_municipality_retired_meanwhile_is_not_offered_once_the_read_ends(ctx, restore_register):
    """Within one read (a request) the number is looked up once; the next read sees the
    register as it is now, whoever changed it."""
    akson = rule("Nord,Vest,Sør-Øst")
    assert municipalities.offered(akson, "0301") is not None
    with db.engine.begin() as other:  # another process retires Oslo
        other.execute(
            Municipality.__table__.update()
            .where(Municipality.number == "0301")
            .values(active=False)
        )
    # The same read: what it saw, as SQLite's snapshot would show it.
    assert municipalities.offered(akson, "0301") is not None
    db.session.rollback()  # the request ends
    assert municipalities.offered(akson, "0301") is None
    assert municipalities.facts("0301").active is False


def test_choices_are_the_eligible_municipalities_by_name(ctx):
    everyone = municipalities.offered_choices(rule())
    assert len(everyone.options) == 356
    names = [label for _number, label, _attributes in everyone.options]
    # Letters outside a–z sort differently by database collation; plain names do not.
    plain = [name for name in names if name.split(" (")[0].isascii()]
    assert len(plain) > 100
    assert plain == sorted(plain)
    assert names.index("Bergen (Vestland)") < names.index("Oslo (Oslo)")
    assert ("0301", "Oslo (Oslo)") in labels(everyone)

    akson = numbers(municipalities.offered_choices(rule("Nord,Vest,Sør-Øst")))
    assert len(akson) == 292
    assert "5001" not in akson  # Trondheim is in Midt-Norge
    assert {"0301", "4601", "1804"} <= akson
    assert labels(municipalities.offered_choices(rule(counties="03"))) == [("0301", "Oslo (Oslo)")]


def test_choices_are_built_once_per_rule_and_language(ctx):
    akson = municipalities.offered_choices(rule("Nord,Vest,Sør-Øst"))
    assert municipalities.offered_choices(rule("Nord,Vest,Sør-Øst")) is akson
    assert municipalities.offered_choices(rule("Nord")) is not akson
    for language in ("en", "nn"):
        with force_locale(language):
            assert municipalities.offered_choices(rule("Nord,Vest,Sør-Øst")) is not akson


def test_choices_follow_a_register_loaded_by_another_process(ctx, app_config, db_url, tmp_path):
    """Another process (here another app on the same database) loads a register: the
    choices this process built before are not used again, whatever is cached."""
    before = municipalities.offered_choices(rule())
    assert "1811" in numbers(before)
    other = create_app(
        {**{k: ctx.config[k] for k in ("TESTING", "SECRET_KEY")}, "SQLALCHEMY_DATABASE_URI": db_url}
    )
    write_register(tmp_path / "new.csv", [r for r in shipped_rows() if r["number"] != "1811"])
    with other.app_context():
        load(tmp_path / "new.csv")
        db.engine.dispose()
    db.session.rollback()  # this process's next request: a new transaction
    after = municipalities.offered_choices(rule())
    assert "1811" not in numbers(after)
    assert len(after.options) == 355

    # A renamed municipality is seen too: the count stays, the latest change moves.
    renamed = [dict(r, name="Nye Oslo") if r["number"] == "0301" else r for r in shipped_rows()]
    write_register(tmp_path / "renamed.csv", renamed)
    with other.app_context():
        load(tmp_path / "renamed.csv")
        db.engine.dispose()
    db.session.rollback()
    assert ("0301", "Nye Oslo (Oslo)") in labels(municipalities.offered_choices(rule()))
