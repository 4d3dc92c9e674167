import pytest
from django.db import connection
from rest_framework.test import APIClient

from moderation.audit import Actor
from moderation.services import issue_vendor_token
from queues.services import claims
from tests import factories


@pytest.fixture
def policies(db):
    """A small policy catalogue: spam (severity 1), harassment (3), child-safety (5)."""
    return {
        "spam": factories.PolicyFactory(code="spam", name="Spam", severity=1, sla_hours=72),
        "harassment": factories.PolicyFactory(code="harassment", name="Harassment", severity=3, sla_hours=24),
        "child-safety": factories.PolicyFactory(
            code="child-safety", name="Child safety", severity=5, sla_hours=1
        ),
    }


@pytest.fixture
def vendor(db):
    return factories.VendorFactory(slug="acme", name="Acme detection", reliability=0.8)


@pytest.fixture
def other_vendor(db):
    return factories.VendorFactory(slug="other", name="Other vendor")


def _client_for(vendor) -> APIClient:
    _, token = issue_vendor_token(vendor=vendor, label="test", actor=Actor.system("test"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.token = token
    return client


@pytest.fixture
def api(vendor, policies) -> APIClient:
    return _client_for(vendor)


@pytest.fixture
def other_api(other_vendor, policies) -> APIClient:
    return _client_for(other_vendor)


@pytest.fixture
def report_body():
    """A valid report body; call with overrides: report_body(external_id="x", subject={...})."""

    def build(**overrides):
        body = {
            "external_id": "r-1",
            "reason": "harassment",
            "subject": {
                "kind": "message",
                "external_id": "msg-1",
                "author_id": "author-9",
                "text": "you are worthless",
                "language": "en",
            },
            "reporter": {"id": "user-1"},
            "comment": "keeps messaging me",
            "occurred_at": "2026-11-20T09:30:00Z",
        }
        body.update(overrides)
        return body

    return build


@pytest.fixture(autouse=True)
def _fresh_policy_cache():
    """Each test's policies live in its own (rolled back) transaction: never reuse another test's."""
    from cases.selectors import forget_cached_policies

    forget_cached_policies()
    yield
    forget_cached_policies()


@pytest.fixture(autouse=True)
def _fresh_routing_cache():
    """Routing rules and signal sources are cached per process; each test starts from its own."""
    from cases.detection.bank_hits import forget_compiled_banks
    from cases.selectors import forget_signal_sources
    from queues.selectors import forget_routing_config

    forget_routing_config()
    forget_signal_sources()
    forget_compiled_banks()
    yield
    forget_routing_config()
    forget_signal_sources()
    forget_compiled_banks()


@pytest.fixture(autouse=True)
def _no_second_factor_unless_asked(settings):
    """Most tests log staff in with `force_login` and test something else; two-factor has its own tests
    (tests/moderation/test_two_factor.py and the browser test), which turn it back on."""
    settings.TWO_FACTOR_REQUIRED = "off"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters, login failures and cached counts are keyed by ids, and ids come round again after a
    test's rollback: never let one test's counters throttle another's vendor. (Tests use the local-memory
    cache; the broker of the real-worker tests is a separate Redis and is never touched.)"""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _no_undo_window_unless_asked(settings):
    """Most tests check what a decision sets in motion at once; the undo window (which holds it back) has its
    own tests (tests/cases/test_second_chances.py and the browser test), which turn it back on."""
    settings.DECISION_UNDO_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs about a second per login on this machine; tests log in a lot."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_queue_counts(settings):
    """Dashboard and outbox counts are cached for all agents in production; tests read them fresh."""
    settings.QUEUE_STATS_CACHE_SECONDS = 0
    settings.OUTBOX_STATS_CACHE_SECONDS = 0


@pytest.fixture
def review_setup(db, policies):
    """A queue `general` (default) the agent `alice` is a member of, with actions allowed under each policy.

    Returns a namespace: queue, agent, actions (dict code → Action), policies.
    """
    from types import SimpleNamespace

    from moderation.models import Action

    actions = {
        "remove": factories.ActionFactory(code="remove", name="Remove", kind=Action.Kind.REMOVE),
        "warn": factories.ActionFactory(code="warn", name="Warn", kind=Action.Kind.WARN),
        "no-violation": factories.ActionFactory(
            code="no-violation", name="No violation", kind=Action.Kind.NO_VIOLATION
        ),
        "escalate": factories.ActionFactory(code="escalate", name="Escalate", kind=Action.Kind.ESCALATE),
    }
    for policy in policies.values():
        policy.allowed_actions.set(actions.values())
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    agent = factories.UserFactory(username="alice")
    queue.members.add(agent)
    return SimpleNamespace(queue=queue, agent=agent, actions=actions, policies=policies)


@pytest.fixture
def bob(review_setup):
    """A second agent of the `general` queue (second reviews, conflicts, appeals by someone else)."""
    user = factories.UserFactory(username="bob")
    review_setup.queue.members.add(user)
    return user


@pytest.fixture
def agent_client(client, review_setup):
    """A browser-like test client logged in as the queue member `alice`."""
    client.force_login(review_setup.agent)
    return client


@pytest.fixture(autouse=True)
def _fresh_review_config():
    """The case page's policies/actions/queues/tags and the queue filters' options are cached per process;
    each test starts from its own."""
    from cases.selectors import forget_review_config
    from queues.filter_markup import forget_filter_options

    forget_review_config()
    forget_filter_options()
    yield
    forget_review_config()
    forget_filter_options()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The API rate limit counts in the cache: every test starts with nothing counted."""
    from django.core.cache import cache

    cache.clear()
    yield


class _PortableConnection:
    """The database connection as claim-next sees it, but not saying "postgresql": the portable path."""

    vendor = "portable"

    def __getattr__(self, name):
        return getattr(connection, name)


@pytest.fixture(params=["one-statement", "portable"])
def claim_path(request, monkeypatch):
    """Run the test through each claim-next implementation: PostgreSQL's one statement, and the portable
    compare-and-set path SQLite uses (on PostgreSQL too, so both meet real row locks)."""
    if request.param == "one-statement":
        if connection.vendor != "postgresql":
            pytest.skip("the one-statement claim runs on PostgreSQL only")
    else:
        monkeypatch.setattr(claims, "connection", _PortableConnection())
    return request.param
