"""Text typed in a browser's text area: line ends and paragraphs."""

import pytest

from webinars.text import newlines, paragraphs


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_paragraphs_are_the_same_whatever_the_line_ends(end):
    typed = f"Første avsnitt,{end}andre linje.{end}{end}Andre avsnitt.{end} {end}{end}Tredje."
    assert paragraphs(typed) == ["Første avsnitt,\nandre linje.", "Andre avsnitt.", "Tredje."]


def test_newlines_stores_lf_only():
    assert newlines("a\r\nb\rc\n") == "a\nb\nc\n"
    assert newlines(None) is None


def test_nothing_gives_no_paragraphs():
    assert paragraphs("") == [] and paragraphs(None) == [] and paragraphs(" \r\n ") == []
