from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class QueuesConfig(AppConfig):
    name = "queues"

    def ready(self) -> None:
        # In ready(): models can be imported only once the app registry is loaded (not when apps.py is).
        from moderation.models import Action, Policy, Vendor
        from queues.models import Queue, RoutingRule, ScoreCondition
        from queues.selectors import forget_routing_config

        # Cache invalidation only: routing sees a saved rule (or what it refers to) at once in this process.
        for model in (RoutingRule, ScoreCondition, Queue, Policy, Action, Vendor):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_routing_config, sender=model, dispatch_uid=f"routing-{model.__name__}-{signal}"
                )
        from queues.filter_markup import forget_filter_options

        for model in (Policy, Vendor):  # the queue filters' options
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_filter_options,
                    sender=model,
                    dispatch_uid=f"filter-options-{model.__name__}-{signal}",
                )
        for through in (RoutingRule.policies.through, RoutingRule.vendors.through):
            m2m_changed.connect(
                forget_routing_config, sender=through, dispatch_uid=f"routing-m2m-{through.__name__}"
            )
