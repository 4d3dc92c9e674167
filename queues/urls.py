from django.urls import path

from queues import oversight_views, views

app_name = "queues"
# Mounted at the site root (moderation/urls.py): the agent's queues under /queues/, the leads' queue pages
# under /oversight/, one namespace.
urlpatterns = [
    path("queues/", views.dashboard, name="dashboard"),
    path("me/badges", views.badges, name="badges"),
    path("queues/<slug:slug>/", views.queue_page, name="queue"),
    path("queues/<slug:slug>/next", views.claim_next, name="next"),
    path("queues/<slug:slug>/bulk-decide", views.bulk_decide, name="bulk-decide"),
    path("oversight/", oversight_views.queue_health, name="oversight-health"),
    path("oversight/team", oversight_views.team, name="oversight-team"),
]
