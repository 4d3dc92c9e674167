from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class CasesConfig(AppConfig):
    name = "cases"

    def ready(self) -> None:
        # In ready(): models can be imported only once the app registry is loaded (not when apps.py is).
        from cases.models import ContextProvider, Scorer, Tag
        from cases.selectors import forget_review_config, forget_signal_sources
        from moderation.models import Action, Policy
        from queues.models import EscalationRoute, Queue

        # Cache invalidation only: enrichment sees a saved scorer or provider at once in this process.
        for model in (Scorer, ContextProvider):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_signal_sources, sender=model, dispatch_uid=f"sources-{model.__name__}-{signal}"
                )
        # The case page's policies, actions, queues and curated tags.
        for model in (Policy, Action, Queue, Tag, EscalationRoute):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_review_config, sender=model, dispatch_uid=f"review-{model.__name__}-{signal}"
                )
        m2m_changed.connect(
            forget_review_config, sender=Policy.allowed_actions.through, dispatch_uid="review-policy-actions"
        )
        # A rule's event trigger is part of the routing rule set (`cases.services.event_rules`).
        from cases.models import EventTrigger
        from queues.selectors import forget_routing_config

        for signal in (post_save, post_delete):
            signal.connect(forget_routing_config, sender=EventTrigger, dispatch_uid=f"event-trigger-{signal}")
        post_save.connect(_restrict_policy_cases, sender=Policy, dispatch_uid="restrict-policy-cases")


def _restrict_policy_cases(sender, instance, raw=False, **kwargs) -> None:
    """A policy marked restricted restricts what was already reported under it (never undone by un-marking:
    restriction is sticky, lifting it is a superuser's deliberate act on the data)."""
    if instance.is_restricted and not raw:
        # Here, not at the top: apps.py is imported before models are loaded, and the service imports models.
        from cases.services.restriction import restrict_policy

        restrict_policy(instance)
