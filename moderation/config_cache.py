"""Per-process caches for configuration read on hot paths (policies, routing rules, signal sources)."""

import time
from collections.abc import Callable

from django.conf import settings


class ConfigCache[T]:
    """`get()` returns `load()`'s result, reloaded after CONFIG_CACHE_SECONDS or once `forget()` is called.

    Saves clear the local copy through model signals (see the apps' `ready`), so this process sees a change
    at once and other processes within CONFIG_CACHE_SECONDS. `forget` accepts signal arguments for that.
    """

    def __init__(self, load: Callable[[], T]):
        self._load = load
        self._entry: tuple[float, T] | None = None

    def get(self) -> T:
        now = time.monotonic()
        if self._entry is None or now - self._entry[0] > settings.CONFIG_CACHE_SECONDS:
            self._entry = (now, self._load())
        return self._entry[1]

    def forget(self, **_signal_kwargs) -> None:
        self._entry = None
