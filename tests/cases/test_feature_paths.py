"""Serving reads one case's features in one statement; training reads many cases in chunks with the ORM.
Both must give the same features for the same moment, whatever the history (strikes removed or expired,
signals before and after the moment, a model's own scores, reports), on SQLite and PostgreSQL alike."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.detection.features import Moment, features_at, features_for
from cases.models import Signal, Strike
from tests import factories

pytestmark = pytest.mark.django_db


def _strike(author_id, policy, **fields):
    decision = factories.DecisionFactory(
        case=factories.CaseFactory(subject__author_id=author_id, policy=policy)
    )
    return Strike.objects.create(
        author_id=author_id, subject=decision.case.subject, decision=decision, policy=policy, **fields
    )


def _signal(case, at, **fields):
    signal = factories.SignalFactory(case=case, **fields)
    Signal.objects.filter(pk=signal.pk).update(created_at=at)  # auto_now_add: set the moment afterwards


@pytest.fixture
def history(policies):
    now = timezone.now()
    spam = policies["spam"]
    author_case = factories.CaseFactory(subject__text="W1N a prize", subject__author_id="a-9", policy=spam)
    _strike("a-9", spam)  # in force
    _strike("a-9", spam, removed_at=now - timedelta(minutes=5))  # removed before the moment
    _strike("a-9", spam, expires_at=now + timedelta(days=1))  # expires after it: still in force
    Strike.objects.filter(author_id="a-9").update(created_at=now - timedelta(hours=1))
    _strike("a-9", spam)  # created after the moment (below): not yet
    factories.ReportFactory(case=author_case, subject=author_case.subject)
    quiet_case = factories.CaseFactory(subject__text="see you at lunch", subject__author_id="", policy=spam)
    reported_case = factories.CaseFactory(subject__text="cheap pills", subject__author_id="", policy=spam)
    factories.ReportFactory(case=reported_case, subject=reported_case.subject)
    moment = now - timedelta(minutes=1)
    for case in (author_case, quiet_case, reported_case):
        _signal(
            case, moment - timedelta(minutes=2), source=Signal.Source.VENDOR_SCORE, label="spam", score=0.4
        )
        _signal(
            case, moment - timedelta(minutes=1), source=Signal.Source.VENDOR_SCORE, label="spam", score=0.7
        )
        _signal(
            case, moment + timedelta(seconds=30), source=Signal.Source.VENDOR_SCORE, label="scam", score=0.9
        )
        _signal(
            case,
            moment - timedelta(minutes=1),
            source=Signal.Source.SHADOW_MODEL,
            label="trained.spam",
            score=0.8,
        )
        _signal(
            case,
            moment - timedelta(minutes=1),
            source=Signal.Source.SCORER,
            label="trained.spam",
            score=0.6,
            model="trained:spam",
        )
        _signal(
            case, moment - timedelta(minutes=1), source=Signal.Source.SCORER, label="profanity", score=0.2
        )
    return [author_case, quiet_case, reported_case], moment


def test_serving_and_training_read_the_same_features_at_the_same_moment(history):
    cases, moment = history

    batch = features_for([Moment(case, moment) for case in cases])

    for case, from_training in zip(cases, batch, strict=True):
        served = features_at(case, moment)
        assert served.inputs == from_training.inputs
        assert served.digest == from_training.digest


def test_the_one_statement_path_keeps_only_what_existed_at_the_moment(history):
    (author_case, quiet_case, _), moment = history

    inputs = features_at(author_case, moment).inputs

    assert inputs["author.active_strikes"] == 2.0  # not the removed one, not the one made later
    assert inputs["signal.vendor_score.spam"] == 0.7  # the strongest by then
    assert "signal.vendor_score.scam" not in inputs  # arrived after the moment
    assert "signal.scorer.trained.spam" not in inputs and "signal.shadow_model.trained.spam" not in inputs
    assert inputs["signal.scorer.profanity"] == 0.2
    assert features_at(quiet_case, moment).inputs["author.active_strikes"] == 0.0


def test_serving_one_case_is_one_statement_without_an_author_or_reports(history, django_assert_num_queries):
    (_, quiet_case, _), moment = history

    with django_assert_num_queries(1):
        features_at(quiet_case, moment)


def test_models_never_see_the_vendor_rate_counter(history):
    (author_case, quiet_case, _), moment = history

    for case in (author_case, quiet_case):
        inputs = features_at(case, moment).inputs
        assert not any(name.startswith("vendor.") for name in inputs)
        assert "author.reports_24h" in inputs or any(name.startswith("author.") for name in inputs)


def test_serving_an_authored_case_costs_a_fixed_number_of_statements(history, django_assert_max_num_queries):
    """The author's counters add four aggregates whatever the traffic; the vendor's rate (a scan of its
    whole minute of reports) is never read for a model."""
    (author_case, _, _), moment = history
    for _ in range(5):  # a busy vendor
        factories.ReportFactory(vendor=author_case.reports.first().vendor)

    with django_assert_max_num_queries(5):
        features_at(author_case, moment)
