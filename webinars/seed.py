"""The Akson programme of spring 2020: the national digital meeting, three webinars and the
campaign for the declaration of intent.

Texts come from the minister's letter to the municipalities and KS's page about Akson
(`shared/seeds/`). The letter gives no dates for the webinars; they are placed on the three
Tuesdays after the meeting. The declarations are due 1 July 2020, 57 days after the meeting;
a seed in the future keeps the same 57 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from .db import write_transaction
from .extensions import db
from .ical import calendar_uid
from .models import Event, Material, Municipality, Programme, local_to_utc, utcnow
from .municipalities import load_register

OSLO = ZoneInfo("Europe/Oslo")
CONTACT = "akson@hod.dep.no"
OUTSIDE_MIDT_NORGE = "Nord,Vest,Sør-Øst"
PROGRAMME = "akson"
#: 5 May 2020 to 1 July 2020: the time the letter gave municipalities to sign.
DAYS_TO_SIGN = 57
PROGRAMME_TEXT = (
    "Akson – felles kommunal journal og helhetlig samhandling for kommunene utenfor "
    "helseregion Midt-Norge. Regjeringens mål er at kommuner som til sammen representerer "
    "over halvparten av innbyggerne utenfor Midt-Norge, signerer intensjonserklæringen."
)
TARGET_GROUP = (
    "Ordførere, kommunedirektører og eventuelt andre nøkkelpersoner i den administrative og "
    "politiske ledelsen i kommunene utenfor helseregion Midt-Norge."
)
MEETING_TEXT = (
    "Helse- og omsorgsministeren inviterer i samarbeid med KS og Direktoratet for e-helse til "
    "et nasjonalt nettbasert stormøte om Akson – felles kommunal journal og helhetlig "
    "samhandling for kommunene utenfor helseregion Midt-Norge.\n\n"
    "Formålet med stormøtet er å bidra til at kommunene sikres god forståelse for behovet for "
    "intensjonserklæringen og den videre prosessen. Det vil være anledning til å stille "
    "spørsmål.\n\n"
    "Regjeringens mål er at kommuner som til sammen representerer over halvparten av "
    "innbyggerne utenfor Midt-Norge signerer intensjonserklæringen før 1. juli 2020. "
    "Signering innebærer ingen kjøpsforpliktelse eller annen økonomisk forpliktelse for "
    f"kommunen.\n\nSpørsmål kan rettes til {CONTACT}."
)
WEBINAR_TEXT = (
    "KS og Direktoratet for e-helse går gjennom {topic} og svarer på spørsmål om blant annet "
    "finansiering, organisering og risiko. Webinaret er en oppfølging av det nasjonale "
    "stormøtet om Akson.\n\nWebinarene blir lagt ut i opptak. "
    f"Spørsmål kan rettes til {CONTACT}."
)
MATERIAL = [
    ("Støttemateriell fra KS (ks.no/akson)", "https://www.ks.no/akson"),
    ("Mer om Akson og tidligere utredninger (ehelse.no)", "https://www.ehelse.no"),
]


@dataclass
class Planned:
    slug: str
    kind: str
    title: str
    description: str
    day: date
    start: time
    end: time
    organiser: str


def programme(meeting_day: date) -> list[Planned]:
    """The meeting on `meeting_day` and a webinar on each of the three following weeks."""
    topics = [
        ("akson-webinar-1", "Webinar 1: Støttemateriellet om Akson", "støttemateriellet"),
        ("akson-webinar-2", "Webinar 2: Intensjonserklæringen", "intensjonserklæringen"),
        ("akson-webinar-3", "Webinar 3: Det sentrale styringsdokumentet", "styringsdokumentet"),
    ]
    planned = [
        Planned(
            "akson-stormote",
            "meeting",
            "Nasjonalt digitalt stormøte om Akson",
            MEETING_TEXT,
            meeting_day,
            time(14, 0),
            time(15, 30),
            "Helse- og omsorgsdepartementet, KS og Direktoratet for e-helse",
        )
    ]
    for week, (slug, title, topic) in enumerate(topics, start=1):
        planned.append(
            Planned(
                slug,
                "webinar",
                title,
                WEBINAR_TEXT.format(topic=topic),
                meeting_day + timedelta(weeks=week),
                time(13, 0),
                time(14, 0),
                "KS og Direktoratet for e-helse",
            )
        )
    return planned


def seed_akson(original_dates: bool = False) -> list[str]:
    """Create what is missing of the programme; returns the slugs created (none the 2nd time)."""
    with write_transaction():
        return _seed(original_dates)


def _seed(original_dates: bool) -> list[str]:
    if not db.session.scalar(select(func.count()).select_from(Municipality)):
        load_register()
    if original_dates:
        meeting_day = date(2020, 5, 5)
    else:
        meeting_day = utcnow().astimezone(OSLO).date() + timedelta(days=14)
    created = []
    for plan in programme(meeting_day):
        if db.session.scalar(select(Event.id).where(Event.slug == plan.slug)):
            continue
        event = Event(
            slug=plan.slug,
            kind=plan.kind,
            title=plan.title,
            description=plan.description,
            target_group=TARGET_GROUP,
            location="Digitalt (lenken sendes på e-post til påmeldte)",
            starts_at=local_to_utc(plan.day, plan.start, OSLO),
            ends_at=local_to_utc(plan.day, plan.end, OSLO),
            timezone="Europe/Oslo",
            status=Event.PUBLISHED,
            eligible_regions=OUTSIDE_MIDT_NORGE,
            join_url=f"https://meet.example.org/{plan.slug}",
            ical_uid=calendar_uid(plan.slug),
            organiser_name=plan.organiser,
            organiser_email=CONTACT,
        )
        if original_dates and plan.kind == "meeting":
            # The letter: "Påmeldingsfristen til stormøtet er 4. mai" – the end of 4 May.
            event.deadline_at = local_to_utc(date(2020, 5, 4), time(23, 59, 59), OSLO)
        else:
            event.deadline_days_before = 1
            event.deadline_local_time = time(23, 59)
        event.materials = [
            Material(title=title, url=url, position=i) for i, (title, url) in enumerate(MATERIAL)
        ]
        db.session.add(event)
        created.append(plan.slug)
    db.session.flush()
    return created + _programme([plan.slug for plan in programme(meeting_day)], created)


def _programme(slugs: list[str], new_events: list[str]) -> list[str]:
    """The Akson programme and its campaign, with the events new now (all of them, when the
    programme is new: a database seeded before programmes existed gets it too)."""
    events = {e.slug: e for e in db.session.scalars(select(Event).where(Event.slug.in_(slugs)))}
    created = []
    akson = db.session.scalar(select(Programme).where(Programme.slug == PROGRAMME))
    if akson is None:
        meeting = events[slugs[0]]
        akson = Programme(
            slug=PROGRAMME,
            title="Akson",
            description=PROGRAMME_TEXT,
            eligible_regions=OUTSIDE_MIDT_NORGE,
            goal_percent=50,
            declarations_due=meeting.local_start.date() + timedelta(days=DAYS_TO_SIGN),
            organiser_name="Helse- og omsorgsdepartementet",
            organiser_email=CONTACT,
        )
        db.session.add(akson)
        db.session.flush()
        created.append(PROGRAMME)
    for slug in slugs:
        if (created or slug in new_events) and events[slug].programme_id is None:
            events[slug].programme_id = akson.id
    return created
