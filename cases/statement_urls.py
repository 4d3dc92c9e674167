"""Leads' DSA pages: statements of reasons and the transparency report."""

from django.urls import path

from cases import statement_views

app_name = "dsa"
urlpatterns = [
    path("statements/", statement_views.statements_page, name="statements"),
    path("statements/export", statement_views.export, name="export"),
    path("statements/<int:statement_id>/retry", statement_views.retry, name="retry"),
    path("transparency/", statement_views.transparency, name="transparency"),
]
