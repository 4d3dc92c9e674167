"""The queue page's filter fields, rendered once and reused: Django's form machinery (widget templates, one
`{% include %}` per `<option>`, lazy labels cast per render) cost about a third of the page's CPU, and the
markup is the same for every agent who opens a queue with the same filter in the same language.

The cache key is everything the markup depends on: the language (labels, error messages), the bound data
(selected options, values, errors) and the policy and vendor options as rendered (`str()` of each row, so a
renamed or new policy or vendor is a new key, never a stale `<option>`). Nothing in it depends on the user:
the filter offers every policy and vendor to every agent, and no case data is in it."""

import threading

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from moderation.config_cache import ConfigCache

# Filters whose options are rows: their options are part of the key.
_ROW_FIELDS = ("policy", "vendor")
_LIMIT = 512  # distinct (language, filter, options) markups kept per process; then the cache starts again

_cache: dict[tuple, SafeString] = {}
_lock = threading.Lock()


def _load_option_rows() -> dict[str, list]:
    from queues.filters import CaseQueueFilter

    return {name: list(CaseQueueFilter.base_filters[name].queryset.all()) for name in _ROW_FIELDS}


# The policies and vendors the filters offer: configuration, read on every queue page, so cached per process
# like the rest (`moderation.config_cache`); a save or delete clears it (`queues.apps`).
_option_rows = ConfigCache(_load_option_rows)
forget_filter_options = _option_rows.forget


def filter_fields_html(filterset) -> SafeString:
    """The `<div class="field">` of every filter of `filterset`, exactly as `queues/_filter_fields.html`
    renders them."""
    form = filterset.form
    rows = _option_rows.get()
    options = tuple(
        tuple((row.pk, form.fields[name].label_from_instance(row)) for row in rows[name])
        for name in _ROW_FIELDS
    )
    data = form.data
    bound = data.lists() if hasattr(data, "lists") else ((name, [value]) for name, value in data.items())
    key = (get_language(), tuple(sorted((name, tuple(values)) for name, values in bound)), options)
    html = _cache.get(key)
    if html is None:
        for name in _ROW_FIELDS:
            # The rows just read, as the field's choices: the widgets would query them again.
            field = form.fields[name]
            choice = field.iterator(field).choice
            empty = [("", field.empty_label)] if field.empty_label is not None else []
            field.widget.choices = empty + [choice(row) for row in rows[name]]
        html = render_to_string("queues/_filter_fields.html", {"filter": filterset})
        with _lock:
            if len(_cache) >= _LIMIT:
                _cache.clear()
            _cache[key] = html
    return html
