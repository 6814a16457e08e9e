"""Every setting of the service: environment variable, default and type, read here only."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean that accepts 1/0, true/false, yes/no (any case)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1/0, true/false or yes/no, not {value!r}")


def database_url(value: str | None) -> str:
    """Default to SQLite under instance/; let postgres:// URLs use psycopg 3."""
    if not value:
        return f"sqlite:///{INSTANCE_DIR / 'webinars.sqlite'}"
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


class Config:
    #: No default: without it the app refuses to start, except in debug and tests (see
    #: create_app). `make run` makes one in instance/secret_key.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    PUBLIC_URL = (os.environ.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")

    # Flask-Mail's own names. No MAIL_SERVER: messages are written to the log.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT") or 25)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or "Webinarer <noreply@localhost>"
    # Flask-Mail would suppress sending whenever TESTING is on; our tests talk to a real
    # SMTP server, and "no MAIL_SERVER" is what sends mail to the log.
    MAIL_SUPPRESS_SEND = False
    #: Seconds: bounds the SMTP connect and every command (Flask-Mail has no timeout).
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT") or 30)
    #: Deliver the outbox from a thread inside the web process (off when `mail worker` runs).
    MAIL_DELIVERY_THREAD = env_bool("MAIL_DELIVERY_THREAD", True)
    MAIL_POLL_SECONDS = float(os.environ.get("MAIL_POLL_SECONDS") or 2)
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS") or 8)

    #: Registrations are anonymised this many days after their event ended.
    ANONYMISE_AFTER_DAYS = int(os.environ.get("ANONYMISE_AFTER_DAYS") or 180)
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE") or "Europe/Oslo"
    BABEL_DEFAULT_LOCALE = "nb"

    #: How organiser passwords are hashed (Werkzeug's method string). Slow on purpose; the
    #: tests choose a cheap scrypt, as Django's own test settings do for their hasher.
    PASSWORD_HASH = "scrypt"

    #: Reverse proxies in front whose X-Forwarded-For and X-Forwarded-Proto are trusted.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES") or 0)
    #: Bodies above this get 413 before anything is read into memory (1 MiB).
    MAX_CONTENT_LENGTH = 1024 * 1024

    # Flask-Limiter's own names. memory:// counts per process; with several gunicorn workers
    # use redis://… so that they share the counts.
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    #: Keys in the limit storage start with this (several services may share one Redis).
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX") or "webinars"
    RATELIMIT_HEADERS_ENABLED = True
    #: Registration POSTs and login attempts allowed per client address.
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER") or "10 per minute; 60 per hour"
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN") or "10 per minute"
    #: "Send me my link again" POSTs per client address (each registration also gets at
    #: most one such mail per 10 minutes, whoever asks).
    RATELIMIT_SEND_LINK = os.environ.get("RATELIMIT_SEND_LINK") or "5 per minute; 20 per hour"
    #: Failed logins naming one account, from all client addresses together.
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT") or "50 per hour"

    #: Organiser sessions end after this long without a request.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PUBLIC_URL.startswith("https://"))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
