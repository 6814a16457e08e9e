"""Field filters and validators shared by both blueprints (webinars/validators.py)."""

import pytest
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from webinars.validators import http_url, lower, single_line, strip


class Field:
    def __init__(self, data):
        self.data = data


def test_filters_leave_other_types_alone():
    assert strip("  Kari \n") == "Kari"
    assert lower("Kari@Kommune.NO") == "kari@kommune.no"
    assert strip(None) is None and lower(None) is None


@pytest.mark.parametrize("value", ["Kari\nBcc: x@y", "Kari\r", "Ka\x00ri", "Ka\x1bri"])
def test_single_line_refuses_line_breaks_and_control_characters(ctx, value):
    with pytest.raises(ValidationError):
        single_line(None, Field(value))


@pytest.mark.parametrize("value", ["Kari Nordmann", "Kari\tNordmann", "", None, "Åse Ørbæk"])
def test_single_line_accepts_ordinary_names(ctx, value):
    single_line(None, Field(value))


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "/relative/path",
        "https://",
        "ftp://files.example.org/a",
        "https://example.org/a b",
        "https://example.org/\x07",
    ],
)
def test_http_url_refuses_what_is_not_a_web_link(ctx, value):
    with pytest.raises(ValidationError):
        http_url(None, Field(value))


@pytest.mark.parametrize("value", ["https://www.ks.no/akson", "HTTP://example.org", "", None])
def test_http_url_accepts_web_links(ctx, value):
    http_url(None, Field(value))


def test_they_work_inside_a_wtforms_form(ctx):
    class F(Form):
        name = StringField(filters=[strip], validators=[single_line])

    form = F(data={"name": "  Kari  "})
    assert form.validate() and form.name.data == "Kari"
