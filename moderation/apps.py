from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Platform configuration"

    def ready(self) -> None:
        import moderation.schema  # noqa: F401  (registers the OpenAPI auth extension)
        from cases.selectors import forget_cached_policies
        from moderation.models import Policy

        # Cache invalidation only (no business logic): a saved policy is visible to intake at once.
        for signal in (post_save, post_delete):
            signal.connect(forget_cached_policies, sender=Policy, dispatch_uid=f"policy-cache-{signal}")
        m2m_changed.connect(
            forget_cached_policies, sender=Policy.allowed_actions.through, dispatch_uid="policy-cache-m2m"
        )
