from django.apps import AppConfig, apps
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def sync_roles_after_migrate(sender, using="default", **kwargs) -> None:
    """Keep the role groups (`moderation.roles`) in step with the code after every `migrate`.

    post_migrate is sent once per app; permissions of every app exist only after the last one, so wait for it.
    """
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if not with_models or sender is not with_models[-1]:
        return
    # Here, not at the top: apps.py is imported before models are loaded, and roles imports auth's models.
    from moderation.roles import sync_roles

    sync_roles()


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Platform configuration"

    def ready(self) -> None:
        # In ready(): importing registers the deploy checks and the OpenAPI auth extension (Django's advice for
        # registration side effects), and models can be imported only once the app registry is loaded.
        from django.contrib.auth.signals import user_logged_in

        import moderation.checks
        import moderation.schema  # noqa: F401
        from cases.selectors import forget_cached_policies
        from moderation.comfort import on_login
        from moderation.models import Policy

        # Not business logic: the person's display settings are copied into their new session.
        user_logged_in.connect(on_login, dispatch_uid="comfort-into-session")
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="moderation-sync-roles")
        # Cache invalidation only (no business logic): a saved policy is visible to intake at once.
        for signal in (post_save, post_delete):
            signal.connect(forget_cached_policies, sender=Policy, dispatch_uid=f"policy-cache-{signal}")
        m2m_changed.connect(
            forget_cached_policies, sender=Policy.allowed_actions.through, dispatch_uid="policy-cache-m2m"
        )
