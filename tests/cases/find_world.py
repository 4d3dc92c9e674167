"""A small world for search and timelines: who sees what.

- `general` (open): alice (agent) and lena (lead) are members; `harassment` (open): nobody here but bob;
  `csam` (restricted): carol, member with a clearance.
- author `author-7` wrote `post-1` (in general, two content versions, a decision, strike and appeal),
  `post-2` (in harassment: alice must not see it) and `post-3` (restricted, in csam).
"""

from types import SimpleNamespace

from cases.models import Appeal, Case, Strike, SubjectVersion
from queues.models import QueueClearance
from tests import factories
from tests.accounts import fresh, person


def version(subject, number: int, text: str, **extra) -> SubjectVersion:
    return SubjectVersion.objects.create(
        subject=subject,
        version=number,
        content_hash=f"h{subject.pk}-{number}",
        text=text,
        author_id=extra.pop("author_id", subject.author_id),
        **extra,
    )


def build_world(review_setup, policies, vendor) -> SimpleNamespace:
    general = review_setup.queue
    harassment = factories.QueueFactory(slug="harassment", name="Harassment")
    csam = factories.QueueFactory(slug="csam", name="Child safety", is_restricted=True)
    carol = factories.UserFactory(username="carol")
    csam.members.add(carol)
    QueueClearance.objects.create(queue=csam, user=carol, reason="trained")
    bob = factories.UserFactory(username="bob")
    harassment.members.add(bob)
    lena = person("lena", "lead")
    general.members.add(lena)

    post1 = factories.SubjectFactory(
        kind="post",
        external_id="post-1",
        author_id="author-7",
        text="buy cheap followers today",
        url="https://platform.example/p/1",
        content_version=2,
    )
    version(post1, 1, "buy followers")
    version(post1, 2, "buy cheap followers today")
    case1 = factories.CaseFactory(
        subject=post1, queue=general, policy=policies["spam"], status=Case.Status.RESOLVED
    )
    report1 = factories.ReportFactory(
        case=case1, vendor=vendor, external_id="rep-1", subject_version=1, comment="spam again"
    )
    action = review_setup.actions["remove"]
    decision = factories.DecisionFactory(
        case=case1,
        action=action,
        decided_by=review_setup.agent,
        reason="selling followers",
        subject_version=1,
    )
    strike = Strike.objects.create(
        author_id="author-7", subject=post1, decision=decision, policy=policies["spam"]
    )
    appeal_case = factories.CaseFactory(subject=post1, queue=general, kind=Case.Kind.APPEAL)
    appeal = Appeal.objects.create(
        vendor=vendor,
        external_id="appeal-1",
        decision=decision,
        appeal_case=appeal_case,
        statement="I only sell real followers",
        payload_hash="x",
    )

    post2 = factories.SubjectFactory(
        kind="post", external_id="post-2", author_id="author-7", text="buy cheap followers elsewhere"
    )
    version(post2, 1, post2.text)
    case2 = factories.CaseFactory(subject=post2, queue=harassment, policy=policies["harassment"])
    factories.ReportFactory(case=case2, vendor=vendor, external_id="rep-2")

    post3 = factories.SubjectFactory(
        kind="post",
        external_id="post-3",
        author_id="author-7",
        text="buy cheap followers hidden",
        is_restricted=True,
    )
    version(post3, 1, post3.text)
    case3 = factories.CaseFactory(subject=post3, queue=csam, policy=policies["spam"], is_restricted=True)
    factories.ReportFactory(case=case3, vendor=vendor, external_id="rep-3")
    return SimpleNamespace(
        general=general,
        harassment=harassment,
        csam=csam,
        alice=fresh(review_setup.agent),
        bob=fresh(bob),
        carol=fresh(carol),
        lena=lena,
        post1=post1,
        post2=post2,
        post3=post3,
        case1=case1,
        case2=case2,
        case3=case3,
        report1=report1,
        decision=decision,
        strike=strike,
        appeal=appeal,
        appeal_case=appeal_case,
    )
