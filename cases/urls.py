from django.urls import path

from cases import api, event_api

urlpatterns = [
    path("reports", api.ReportCreateView.as_view(), name="api-report-create"),
    path("reports/batch", api.ReportBatchView.as_view(), name="api-report-batch"),
    path("reports/<int:report_id>", api.ReportDetailView.as_view(), name="api-report-detail"),
    path("cases/<int:case_id>", api.CaseDetailView.as_view(), name="api-case-detail"),
    path("appeals", api.AppealCreateView.as_view(), name="api-appeal-create"),
    path("events", event_api.EventIngestView.as_view(), name="api-events"),
    path("appeals/<int:appeal_id>", api.AppealDetailView.as_view(), name="api-appeal-detail"),
]
