"""Audit verbs are one enumeration (`moderation.audit_verbs.Verb`): the log never gets a verb it does not list."""

import pytest

from moderation.audit import Actor, Verb, audit_event, record_event
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_an_event_is_stored_under_its_verbs_value():
    vendor = factories.VendorFactory()

    event = record_event(actor=Actor.system(), verb=Verb.VENDOR_TOKEN_ISSUED, target=vendor)

    assert AuditEvent.objects.get(pk=event.pk).verb == "vendor_token.issued"


def test_a_verb_the_enumeration_does_not_list_is_refused_and_nothing_is_written():
    vendor = factories.VendorFactory()

    with pytest.raises(ValueError, match="not an audit verb"):
        record_event(actor=Actor.system(), verb="decision.recorded_maybe", target=vendor)

    assert not AuditEvent.objects.exists()


def test_an_event_built_for_a_bulk_insert_is_refused_a_verb_it_does_not_list():
    with pytest.raises(ValueError, match="not an audit verb"):
        audit_event(actor=Actor.system(), verb="case.opend", target=factories.VendorFactory())


def test_vendor_callback_deliveries_have_their_verbs():
    assert {Verb.VENDOR_CALLBACK_DELIVERED, Verb.VENDOR_CALLBACK_FAILED, Verb.VENDOR_CALLBACK_RETRIED} == {
        "vendor_callback.delivered",
        "vendor_callback.failed",
        "vendor_callback.retried",
    }


def test_every_verb_fits_the_stored_column():
    longest = max(len(verb.value) for verb in Verb)

    assert longest <= AuditEvent._meta.get_field("verb").max_length
