"""The agent UI's case URLs (the REST API's are in `cases.urls`)."""

from django.urls import path

from cases import (
    campaign_views,
    case_tools_views,
    find_views,
    holding_views,
    media_views,
    oversight_views,
    retention_views,
    spot_views,
    views,
)

app_name = "cases"
urlpatterns = [
    path("search", find_views.search, name="search"),
    path("subjects/<int:subject_id>/", find_views.subject_page, name="subject"),
    path("subjects/<int:subject_id>/versions/<int:number>", find_views.version_page, name="subject-version"),
    path("authors/", find_views.author_page, name="author"),
    path("spot-test", spot_views.spot_test, name="spot-test"),
    path("oversight/outcomes", oversight_views.outcomes_page, name="oversight-outcomes"),
    path("oversight/sources", oversight_views.sources_page, name="oversight-sources"),
    path("campaigns/<int:campaign_id>/", campaign_views.campaign_page, name="campaign"),
    path("campaigns/<int:campaign_id>/decide", campaign_views.decide, name="campaign-decide"),
    path("<int:case_id>/", views.case_page, name="review"),
    path("<int:case_id>/decide", views.decide, name="decide"),
    path("<int:case_id>/reassign", views.reassign, name="reassign"),
    path("<int:case_id>/undo", views.undo, name="undo"),
    path("<int:case_id>/withdraw", views.withdraw, name="withdraw"),
    path("<int:case_id>/escalate", views.escalate, name="escalate"),
    path("<int:case_id>/confirm", views.confirm, name="confirm"),
    path("<int:case_id>/appeal", views.resolve_appeal, name="resolve-appeal"),
    path("<int:case_id>/reports/<int:report_id>/mute", case_tools_views.mute_reporter, name="mute-reporter"),
    path("<int:case_id>/legal-holds", retention_views.place_hold, name="place-hold"),
    path(
        "<int:case_id>/legal-holds/<int:hold_id>/release", retention_views.release_hold, name="release-hold"
    ),
    path("<int:case_id>/claim", holding_views.claim, name="claim"),
    path("<int:case_id>/skip", holding_views.skip, name="skip"),
    path("<int:case_id>/release", holding_views.release, name="release"),
    path("<int:case_id>/heartbeat", holding_views.heartbeat, name="heartbeat"),
    path("<int:case_id>/actions", case_tools_views.action_choices, name="actions"),
    path("<int:case_id>/message", case_tools_views.message_preview, name="message-preview"),
    path("<int:case_id>/notes", case_tools_views.add_note, name="notes"),
    path("<int:case_id>/tags", case_tools_views.change_tags, name="tags"),
    path("<int:case_id>/media/<int:index>", media_views.media_file, name="media"),
    path("<int:case_id>/media/<int:index>/item", media_views.media_item, name="media-item"),
    path("<int:case_id>/media/<int:index>/reveal", media_views.reveal_media, name="reveal"),
    path(
        "<int:case_id>/enforcements/<int:enforcement_id>/retry",
        case_tools_views.retry_enforcement,
        name="retry-enforcement",
    ),
    path(
        "<int:case_id>/vendor-callbacks/<int:callback_id>/retry",
        case_tools_views.retry_vendor_callback,
        name="retry-vendor-callback",
    ),
]
