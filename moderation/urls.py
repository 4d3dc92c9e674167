from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from moderation import audit_views, comfort_views, language, ops_views, two_factor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", views.StaffLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/setup/", two_factor.two_factor_setup, name="two-factor-setup"),
    path("accounts/two-factor/", two_factor.two_factor_verify, name="two-factor-verify"),
    path("me/settings", comfort_views.my_settings, name="my-settings"),
    path("me/theme", comfort_views.switch_theme, name="switch-theme"),
    path("i18n/setlang/", language.switch_language, name="set-language"),
    path("", include("queues.urls")),
    path("audit/", audit_views.audit_log, name="audit-log"),
    path("audit/export.csv", audit_views.audit_export, name="audit-export"),
    path("cases/", include("cases.review_urls")),
    path("dsa/", include("cases.statement_urls")),
    path("api/v1/", include("cases.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the docs work under the CSP (no inline JS).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "moderation.views.bad_request"
handler404 = "moderation.views.not_found"
handler500 = "moderation.views.server_error"
