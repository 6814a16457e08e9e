"""The organiser's event form as a browser fills it in, for the event page and form tests."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, select

from tests.support import detach, form_token, within
from webinars.extensions import db
from webinars.models import Event, utcnow

OSLO = ZoneInfo("Europe/Oslo")
#: The day the form's event starts: 30 days ahead, in Oslo.
START = (utcnow().astimezone(OSLO) + timedelta(days=30)).date()


def form(**overrides) -> dict:
    """The event form as a browser submits it; a webinar 30 days ahead, 14:00-15:30 Oslo."""
    data = {
        "title": "Webinar om Akson",
        "slug": "akson-test",
        "kind": "webinar",
        "description": "Om Akson.",
        "target_group": "Ordførere og kommunedirektører",
        "location": "Digitalt",
        "start_date": START.isoformat(),
        "start_time": "14:00",
        "end_date": "",
        "end_time": "15:30",
        "timezone": "Europe/Oslo",
        "opens_date": "",
        "opens_time": "",
        "deadline_mode": "relative",
        "deadline_days": "1",
        "deadline_days_time": "23:59",
        "deadline_date": "",
        "deadline_time": "",
        "capacity": "",
        "join_url": "https://meet.example.org/akson",
        "organiser_name": "KS",
        "organiser_email": "akson@ks.no",
        "regions": ["Nord", "Vest", "Sør-Øst"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post(client, path: str, data: dict):
    """POST like a browser: with the session's CSRF token (any organiser page carries it)."""
    token = form_token(client.get("/organiser/events").text)
    return client.post(path, data={**data, "csrf_token": token})


def event_by_slug(app: Flask, slug: str) -> Event | None:
    """The event as stored now, read in a context of its own (detached)."""
    with within(app):
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        return detach(event) if event is not None else None


def create(client, app: Flask, **overrides) -> Event:
    """Create an event through the form; the stored event."""
    response = post(client, "/organiser/events/new", form(**overrides))
    assert response.status_code == 303, response.text
    return event_by_slug(app, response.headers["Location"].rsplit("/", 1)[1])


def field_error(response, name: str) -> str:
    """The error shown next to a form field."""
    match = re.search(rf'id="{name}-error">([^<]+)<', response.text)
    assert match, f"no error shown next to {name}"
    return match.group(1)


def count(app: Flask, model) -> int:
    with within(app):
        return db.session.scalar(select(func.count()).select_from(model))
