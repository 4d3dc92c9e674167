from datetime import UTC, datetime

import pytest

from cases.models import Signal
from tests import factories


@pytest.fixture
def queues(db):
    return {
        "general": factories.QueueFactory(slug="general", name="General", is_default=True),
        "harassment": factories.QueueFactory(slug="harassment", name="Harassment", sla_hours=6),
        "child-safety": factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True),
    }


@pytest.fixture
def actions(db):
    return {
        "remove": factories.ActionFactory(code="remove", kind="remove"),
        "warn": factories.ActionFactory(code="warn", kind="warn"),
    }


@pytest.fixture
def make_case(policies, vendor):
    """A case with reports from `vendor` under `reasons`, optional signals {label: score}."""

    def build(*, reasons=("harassment",), signals=None, kind="message", language="en", reporters=1):
        subject = factories.SubjectFactory(kind=kind, language=language)
        case = factories.CaseFactory(subject=subject, policy=policies[reasons[0]], reporter_count=reporters)
        for n, reason in enumerate(reasons):
            factories.ReportFactory(case=case, vendor=vendor, policy=policies[reason], reporter_id=f"u{n}")
        for label, value in (signals or {}).items():
            if isinstance(value, float) and 0 <= value <= 1:
                factories.SignalFactory(case=case, label=label, score=value)
            else:
                factories.SignalFactory(
                    case=case, label=label, score=None, value=value, source=Signal.Source.CONTEXT
                )
        return case

    return build


@pytest.fixture
def clock(monkeypatch, settings):
    """Django's clock, set by the test: auto_now fields, services and audit rows all read it. Leases last
    long enough for the hour-long reviews the tests describe."""
    from django.utils import timezone

    settings.CASE_LEASE_SECONDS = 4 * 3600

    class Clock:
        now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

        def set(self, moment):
            self.now = moment

    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c
