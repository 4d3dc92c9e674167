"""Detection: what the platform learns about a subject before and beside people.

Scorers (the built-in text model, HTTP moderation APIs), context providers, and media copies. One-way: this
room reads subjects and cases (`cases.models`, `cases.selectors`) and writes signals and media copies; it
never imports the decision, routing or intake services. What happens next (routing on the new signals) is the
caller's to pass in (`enrich_case(route=...)`, wired by `cases.tasks`).
"""
