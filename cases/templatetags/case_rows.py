"""The queue page's rows (templates/queues/queue.html), built in Python: 50 rows of ten cells each cost the
template engine about three quarters of the page's time (a variable lookup, filter call and autoescape per
cell); this costs a tenth of that.
Every value from a case is escaped here (`format_html`, `escape`) or goes through `render_hostile_text`;
the markup is exactly what `templates/queues/queue.html` would write."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext

from cases.content_display import render_hostile_text
from cases.models import Case
from cases.search_selectors import author_url
from cases.templatetags.case_display import age, due_in, percent, sla_state

register = template.Library()

_PK = "987654321"  # a stand-in id: the URL is reversed once per page, not once per row


@register.simple_tag
def case_rows(page, bulk, selected) -> SafeString:
    """The `<tr>` of every case of `page`; with `bulk`, a checkbox for the bulk form (`selected` ids ticked)."""
    review_url = reverse("cases:review", args=[int(_PK)])
    selected = selected or ()
    # Translated once per page (the same messages the template used), escaped like any other attribute.
    select_label = escape(gettext("Select case %(case)s"))
    timeline_title = escape(gettext("Author's timeline"))
    author_base = reverse("cases:author")  # reversed once: `author_url` per row reversed it 50 times
    # `get_status_display()` per row builds a dict of the lazy labels (hashing, so translating, each one):
    # the labels in the active language, once per page.
    status_labels = {value: str(label) for value, label in Case._meta.get_field("status").flatchoices}
    # The clock and the deadline phrases once per page, not three clock reads and two look-ups a row.
    now = timezone.now()
    phrases = (gettext("no SLA"), gettext("in %(time)s"), gettext("%(time)s late"))
    rows = []
    for case in page:
        pk = str(case.pk)
        cells = []
        if bulk:
            checked = " checked" if case.pk in selected else ""
            cells.append(
                f'<td><input type="checkbox" name="cases" value="{pk}" form="bulk-form" '
                f'aria-label="{select_label % {"case": pk}}"{checked}></td>'
            )
        cells.append(f'<td><a href="{review_url.replace(_PK, pk)}">#{pk}</a></td>')
        # f-strings, not format_html (a tenth of the cost): plain values through escape(), the reported
        # text through render_hostile_text (already escaped, so not escaped twice).
        subject = [f'<span class="kind">{escape(case.subject_kind)}</span>']
        if case.subject_author_id:
            author = str(case.subject_author_id)
            # Truncator only when there is something to cut: it is most of a row's time otherwise.
            shown = render_hostile_text(author if len(author) <= 32 else Truncator(author).chars(32))
            href = escape(author_url(str(case.subject_author_id), base=author_base))
            subject.append(
                f'<a class="author-link" href="{href}" title="{timeline_title}"><code>{shown}</code></a>'
            )
        subject.append(f'<span class="snippet">{render_hostile_text(case.snippet, limit=140)}</span>')
        subject.extend(f'<span class="tag">{escape(slug)}</span>' for slug in case.tag_slugs)
        cells.append(f'<td class="subject-cell">{" ".join(subject)}</td>')
        cells.append(f"<td>{escape(case.policy.name) if case.policy_id else '—'}</td>")
        cells.append(f'<td class="num">{_whole(case.priority)}</td>')
        cells.append(f'<td class="num">{percent(case.max_score)}</td>')
        cells.append(f'<td class="num">{int(case.report_count)}</td>')
        cells.append(f"<td>{age(case.opened_at, now=now)}</td>")
        cells.append(
            f'<td class="sla-{sla_state(case.sla_due_at, now=now)}">'
            f"{due_in(case.sla_due_at, now=now, phrases=phrases)}</td>"
        )
        status = escape(status_labels.get(case.status, case.status))
        if case.assignee_id:
            status += f" · {escape(case.assignee.get_username())}"
        cells.append(f"<td>{status}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 - every case value above is escaped


def _whole(value) -> str:
    """`floatformat:0`: rounded half up, no decimals."""
    return str(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP))
