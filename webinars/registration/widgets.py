"""Widgets of the public registration form that write the same HTML as WTForms' own, cheaper.

The event page is mostly its form, and WTForms writes each attribute through
`Markup.format` (Python's string.Formatter): a fifth of the page's time for a dozen
elements. `html_params` here writes the same bytes directly; the select of ~300
municipalities has its options rendered once per set of choices.
"""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import Label as Label_
from wtforms import widgets
from wtforms.widgets import Select
from wtforms.widgets.core import clean_key


def html_params(**kwargs) -> Markup:
    """WTForms' `html_params`, the same output, without string.Formatter per attribute."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = clean_key(key)
        if value is True:
            params.append(str(escape(key)))
        elif value is not False:
            params.append(f'{escape(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


class Label(Label_):
    """A field's <label>, as WTForms writes it."""

    def __call__(self, text=None, **kwargs):
        if "for_" in kwargs:
            kwargs["for"] = kwargs.pop("for_")
        else:
            kwargs.setdefault("for", self.field_id)
        attributes = html_params(**kwargs)
        attributes = f" {attributes}" if attributes else ""
        return Markup(f"<label{attributes}>{escape(text or self.text)}</label>")


def cheap_labels(form) -> None:
    """Give every field of a form the Label above (same text, same output)."""
    for field in form:
        field.label = Label(field.label.field_id, field.label.text)


class TextInput(widgets.TextInput):
    html_params = staticmethod(html_params)


class EmailInput(widgets.EmailInput):
    html_params = staticmethod(html_params)


class TextArea(widgets.TextArea):
    """WTForms' TextArea, the same output, with the cheaper `html_params`."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        params = html_params(name=field.name, **kwargs)
        return Markup(f"<textarea {params}>\r\n{escape(field._value())}</textarea>")


class PrerenderedSelect(Select):
    """A select whose options are rendered once per set of choices, not on every request.

    WTForms writes every option through `html_params` and escaping on each render: with
    ~300 municipalities, three fifths of the event page's time. This widget lets WTForms
    render a field's options once, with nothing selected, and keeps the HTML under the
    field's `options_key` (what the options depend on: the shared choices and the
    language); a render marks the chosen option `selected` exactly as WTForms would and
    writes the select's own attributes (id, aria-*) per request. The output is WTForms'
    own, byte for byte.
    """

    def __call__(self, field, **kwargs):
        options = _rendered_options(field)
        select = self._select(field, **kwargs)
        chosen = options.selected.get(field.data) if isinstance(field.data, str) else None
        inner = options.html if chosen is None else options.html.replace(*chosen, 1)
        return Markup(select[: -len("</select>")] + inner + "</select>")

    def _select(self, field, **kwargs) -> str:
        """The <select …></select> element without options, as Select writes it."""
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for name in self.validation_attrs:
            if name not in kwargs and getattr(flags, name, False):
                kwargs[name] = getattr(flags, name)
        return f"<select {html_params(name=field.name, **kwargs)}></select>"


class _AllOptions:
    """A field with its options and nothing selected, for rendering them once."""

    def __init__(self, field):
        self.id, self.name, self.flags, self.field = field.id, field.name, field.flags, field

    def has_groups(self) -> bool:
        return self.field.has_groups()

    def _iter_choices_normalized(self):
        return self.field._iter_choices_normalized()

    def _iter_groups_normalized(self):
        return self.field._iter_groups_normalized()


class _Options:
    """A field's options rendered with nothing selected, and each option's selected form."""

    __slots__ = ("html", "selected")

    html: str
    selected: dict[str, tuple[str, str]]

    def __init__(self, field):
        data, field.data = field.data, None
        try:
            whole = str(Select()(_AllOptions(field)))
            self.html = whole[whole.index(">") + 1 : -len("</select>")]
            render = Select.render_option
            self.selected = {
                choice.value: (str(render(choice)), str(render(choice._replace(selected=True))))
                for choice in field._iter_choices_normalized()
            }
        finally:
            field.data = data


#: Rendered options by the fields' options_key.
_RENDERED: dict[object, _Options] = {}


def _rendered_options(field) -> _Options:
    field.choices  # noqa: B018 (built when first read, and with them the options_key)
    options = _RENDERED.get(field.options_key)
    if options is None:
        options = _Options(field)
        if len(_RENDERED) >= 64:  # a few keys per register version; old ones go
            _RENDERED.clear()
        _RENDERED[field.options_key] = options
    return options
