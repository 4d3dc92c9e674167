from django.urls import path

from queues import oversight_views, shortcut_views, views

app_name = "queues"
# Mounted at the site root (moderation/urls.py): the agent's queues under /queues/, the leads' queue pages
# under /oversight/, one namespace.
urlpatterns = [
    path("queues/", views.dashboard, name="dashboard"),
    path("queues/shortcuts", shortcut_views.shortcuts, name="shortcuts"),
    path("me/badges", views.badges, name="badges"),
    path("me/waiting/<slug:kind>", views.waiting, name="waiting"),
    path("queues/<slug:slug>/", views.queue_page, name="queue"),
    path("queues/<slug:slug>/next", views.claim_next, name="next"),
    path("queues/<slug:slug>/bulk-decide", views.bulk_decide, name="bulk-decide"),
    path("queues/<slug:slug>/star", shortcut_views.star, name="star"),
    path("queues/<slug:slug>/views", shortcut_views.save, name="save-view"),
    path("queues/<slug:slug>/views/<int:view_id>/remove", shortcut_views.remove, name="remove-view"),
    path("oversight/", oversight_views.queue_health, name="oversight-health"),
    path("oversight/team", oversight_views.team, name="oversight-team"),
]
