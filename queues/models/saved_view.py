"""A queue filter saved under a name for everyone who works the queue, and the queues an agent starred:
both are shortcuts in the header."""

from django.conf import settings
from django.db import models

from queues.models.queue import Queue


class SavedView(models.Model):
    """A lead's named filter of a queue page (its querystring, as `queues.filters.CaseQueueFilter` reads it),
    shown to everyone who may see the queue."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    # Only the filter's own fields, normalised and validated when saved (`queues.services.saved_views`).
    querystring = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queue_id", "name"]
        constraints = [models.UniqueConstraint(fields=["queue", "name"], name="saved_view_name_per_queue")]

    def __str__(self) -> str:
        return f"{self.name} ({self.queue_id})"


class QueueStar(models.Model):
    """An agent's starred queue (a header shortcut)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "queue"], name="one_star_per_user_queue")]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.queue_id}"
