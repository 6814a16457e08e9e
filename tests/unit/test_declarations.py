"""Declarations: recorded, loaded from a file, or handed in and accepted; one accepted per
municipality; withdrawn ones kept; late ones counted; only PDFs of at most 10 MB."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from webinars import csvfiles, declaration_files, declarations
from webinars.declarations import Upload
from webinars.extensions import db
from webinars.models import Declaration, DeclarationDocument

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _statuses(programme) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(d.municipality_number, d.status) for d in declarations.history(programme)]


def test_an_organiser_records_a_declaration_with_its_pdf(ctx, create_programme):
    akson = create_programme()

    declaration = declarations.record(
        akson,
        municipality="4601",
        signed_on=date(2020, 6, 12),
        signed_by_name="Marte Mjøs Persen",
        signed_by_role="Byrådsleder",
        note="Mottatt i posten",
        document=Upload("Intensjonserklæring Bergen.pdf", PDF),
        by="arrangor@ks.test",
    )

    assert declaration.status == Declaration.ACCEPTED
    document = declarations.document_of(declaration)
    assert (document.filename, document.size, document.content) == (
        "Intensjonserkl-ring-Bergen.pdf",
        len(PDF),
        PDF,
    )
    assert declaration.recorded_by == "arrangor@ks.test"


def test_a_municipality_outside_the_campaign_is_refused(ctx, create_programme):
    akson = create_programme()

    with pytest.raises(declarations.NotInCampaign):
        declarations.record(akson, municipality="5001", signed_on=date(2020, 6, 1), by="x")
    with pytest.raises(declarations.NotInCampaign):
        declarations.record(akson, municipality="9999", signed_on=date(2020, 6, 1), by="x")
    assert _statuses(akson) == []


def test_a_late_declaration_is_accepted_and_counts(ctx, create_programme):
    akson = create_programme()

    declaration = declarations.record(
        akson, municipality="0301", signed_on=date(2020, 7, 2), by="x"
    )

    assert declaration.status == Declaration.ACCEPTED
    assert declarations.accepted_of(akson, "0301") is not None


@pytest.mark.parametrize(
    "upload, error",
    [
        (Upload("erklaering.pdf", b"PK\x03\x04 a word file renamed"), declarations.InvalidDocument),
        (Upload("erklaering.pdf", b"%PDF-1.4 cut off in the middle"), declarations.InvalidDocument),
        (
            Upload("stor.pdf", b"%PDF-1.4\n" + b"0" * declarations.MAX_DOCUMENT + b"\n%%EOF"),
            declarations.DocumentTooLarge,
        ),
    ],
    ids=["not a pdf", "truncated", "over 10 MB"],
)
def test_only_a_pdf_of_at_most_10_mb_is_taken(ctx, create_programme, upload, error):
    akson = create_programme()

    with pytest.raises(error):
        declarations.record(
            akson, municipality="0301", signed_on=date(2020, 6, 1), document=upload, by="x"
        )

    assert _statuses(akson) == []
    assert db.session.scalar(select(func.count(DeclarationDocument.id))) == 0


def test_one_accepted_per_municipality_and_withdrawn_ones_stay(ctx, create_programme):
    akson = create_programme()
    first = declarations.record(akson, municipality="0301", signed_on=date(2020, 6, 1), by="x")

    with pytest.raises(declarations.AlreadySigned):
        declarations.record(akson, municipality="0301", signed_on=date(2020, 6, 2), by="x")
    assert declarations.withdraw(first, by="y") is True
    assert declarations.withdraw(first, by="y") is False
    declarations.record(akson, municipality="0301", signed_on=date(2020, 6, 3), by="x")

    assert sorted(_statuses(akson)) == [("0301", "accepted"), ("0301", "withdrawn")]
    assert first.withdrawn_by == "y" and first.withdrawn_at is not None


def test_a_handed_in_declaration_counts_once_accepted(ctx, create_programme, create_contact):
    akson = create_programme()
    contact = create_contact("4601")

    submitted = declarations.submit(
        akson,
        contact,
        signed_on=date(2020, 6, 1),
        signed_by_name="Ordfører",
        signed_by_role="ordfører",
        document=Upload("e.pdf", PDF),
    )

    assert submitted.status == Declaration.SUBMITTED and submitted.recorded_by == contact.email
    assert declarations.accepted_of(akson, "4601") is None
    assert [d.id for d in declarations.pending(akson)] == [submitted.id]
    declarations.decide(submitted, accept=True, by="arrangor@ks.test")
    assert declarations.accepted_of(akson, "4601").id == submitted.id
    with pytest.raises(declarations.NotPending):
        declarations.decide(submitted, accept=False, by="arrangor@ks.test")


def test_a_handed_in_declaration_needs_its_pdf(ctx, create_programme, create_contact):
    akson = create_programme()

    with pytest.raises(declarations.InvalidDocument):
        declarations.submit(
            akson,
            create_contact("4601"),
            signed_on=date(2020, 6, 1),
            signed_by_name="Ordfører",
            signed_by_role="ordfører",
            document=Upload("e.pdf", b""),
        )
    assert _statuses(akson) == []


def test_a_declarations_file_records_good_rows_and_reports_bad_ones(ctx, create_programme):
    akson = create_programme()
    data = (
        "municipality,signed_on,signed_by\n"
        "0301,2020-06-12,Raymond Johansen\n"  # 2: good
        "4601,12.06.2020\n"  # 3: good, Norwegian date, no signer
        "5001,2020-06-12\n"  # 4: Midt-Norge
        "1103,soon\n"  # 5: no date
        "0301,2020-06-13\n"  # 6: the same municipality again
        "1804,2020-07-15\n"  # 7: late, still good
    )

    loaded = declaration_files.load(akson, data.encode(), by="arrangor@ks.test")

    assert (loaded.added, loaded.late) == (3, 1)
    assert [row.line for row in loaded.bad] == [4, 5, 6]
    assert sorted(n for n, _ in _statuses(akson)) == ["0301", "1804", "4601"]
    again = declaration_files.load(akson, data.encode(), by="arrangor@ks.test")
    assert (again.added, again.unchanged) == (0, 3)


def test_an_empty_declarations_file_is_refused(ctx, create_programme):
    with pytest.raises(csvfiles.FileError):
        declaration_files.load(create_programme(), b"", by="x")


def test_submission_links_go_once_to_contacts_of_unsigned_municipalities(
    ctx, create_programme, create_contact
):
    akson = create_programme()
    create_contact("0301")
    create_contact("4601")
    create_contact("5001")  # not in the campaign
    declarations.record(akson, municipality="4601", signed_on=date(2020, 6, 1), by="x")

    assert declarations.link_count(akson) == 1
    assert declarations.send_submission_links(akson) == 1
    assert declarations.send_submission_links(akson) == 0
