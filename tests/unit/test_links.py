"""Personal links: signed for one purpose, refused when changed or used for another."""

from webinars import links


def test_a_token_names_its_ids_for_its_purpose_only(ctx):
    token = links.token(links.SUBMISSION, 7, 1)

    assert links.read(links.SUBMISSION, token, 2) == [7, 1]
    assert links.read(links.INVITATION, token, 2) is None  # another purpose's salt
    assert links.read(links.SUBMISSION, token, 1) is None  # another shape


def test_a_tampered_or_foreign_token_is_refused(ctx, app):
    token = links.token(links.UNSUBSCRIBE, 7)
    payload, signature = token.rsplit(".", 1)
    forged = links.token(links.UNSUBSCRIBE, 8).rsplit(".", 1)[0] + "." + signature

    assert links.read(links.UNSUBSCRIBE, forged, 1) is None
    assert links.read(links.UNSUBSCRIBE, token[:-2] + "xx", 1) is None
    assert links.read(links.UNSUBSCRIBE, "", 1) is None
    assert links.read(links.UNSUBSCRIBE, "a" * 500, 1) is None
    app.config["SECRET_KEY"] = "another-key"
    assert links.read(links.UNSUBSCRIBE, token, 1) is None


def test_urls_use_the_public_address(ctx):
    assert links.invitation_url(3, 4).startswith("http://webinars.test/i/")
    assert links.unsubscribe_url(3).startswith("http://webinars.test/u/")
    assert links.submission_url(3, 1).startswith("http://webinars.test/d/")
