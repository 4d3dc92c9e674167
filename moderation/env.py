"""Small typed helpers that read settings from the environment and fail loudly on bad values."""

import ipaddress
import os
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_choice(name: str, default: str, choices: set[str]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r}: use one of {', '.join(sorted(choices))}")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated CIDRs or single addresses (`10.0.0.0/8,192.0.2.7`), each checked: a typo must not quietly
    trust nobody, or everybody. Host bits set (`10.0.0.1/8`) is refused as the likely typo it is."""
    values = env_list(name, default)
    for value in values:
        try:
            ipaddress.ip_network(value)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {value!r} is not an IP network ({error})") from None
    return values


def database_from_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name?sslmode=require` or `sqlite:///path` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parsed.path[1:] or ":memory:")}
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parsed.scheme!r} is not supported (postgres, sqlite)"
        )
    name = unquote(parsed.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database")
    options: dict = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    if "server_side_binding" in options:
        options["server_side_binding"] = options["server_side_binding"].lower() in {"1", "true", "yes", "on"}
    if "prepare_threshold" in options:
        options["prepare_threshold"] = int(options["prepare_threshold"])
    return {
        "ENGINE": "moderation.postgresql",  # Django's, plus `flush` (see its docstring)
        "NAME": name,
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
    }


def owner_database_from_url(url: str, app_database: dict) -> dict:
    """MIGRATE_DATABASE_URL: the app's own database, reached as the role that owns its tables.

    Only the login and address are taken (user, password, host, port, options), so `migrate` can never be
    pointed at another database than the app's, nor the tests' database at production's.
    """
    owner = database_from_url(url)
    if owner["ENGINE"] != app_database["ENGINE"] or not owner["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured(
            "MIGRATE_DATABASE_URL needs DATABASE_URL, both PostgreSQL (SQLite has no roles)"
        )
    if owner["NAME"] != app_database["NAME"]:
        raise ImproperlyConfigured(
            f"MIGRATE_DATABASE_URL names database {owner['NAME']!r}, DATABASE_URL {app_database['NAME']!r}: "
            "they must be the same database (the owner's login and the app's)"
        )
    return {key: owner[key] for key in ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")}
