from django.urls import path

from queues import views

app_name = "queues"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<slug:slug>/", views.queue_page, name="queue"),
    path("<slug:slug>/next", views.claim_next, name="next"),
    path("<slug:slug>/bulk-decide", views.bulk_decide, name="bulk-decide"),
]
