from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class CasesConfig(AppConfig):
    name = "cases"

    def ready(self) -> None:
        from cases.models import ContextProvider, Scorer
        from cases.selectors import forget_signal_sources

        # Cache invalidation only: enrichment sees a saved scorer or provider at once in this process.
        for model in (Scorer, ContextProvider):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_signal_sources, sender=model, dispatch_uid=f"sources-{model.__name__}-{signal}"
                )
