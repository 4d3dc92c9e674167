"""Admin pages for trained models: versions with their held-out figures and plots, shadow beside live on the
same cases, and the audited actions (shadow, promote, roll back) that go through the registry service."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from cases.models import Decision, ModelVersion, ScoringRecord
from cases.services.model_registry import promote_model, rollback_model, shadow_model
from moderation.audit import Actor
from moderation.errors import DomainError

_SIZE, _PAD = 220, 28


def _svg(points, *, title: str, x_label: str, y_label: str, diagonal: bool = False) -> str:
    """A small line plot as inline SVG (no script, no style attribute: fits the strict CSP). Points are
    forced to floats in 0..1 first, so nothing from the metrics JSON reaches the markup as text."""
    span, half = _SIZE - 2 * _PAD, _SIZE // 2
    coords = [
        (_PAD + min(1.0, max(0.0, float(x))) * span, _SIZE - _PAD - min(1.0, max(0.0, float(y))) * span)
        for x, y, *_ in points
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="2.5" fill="#264d99"/>', ((f"{x:.1f}", f"{y:.1f}") for x, y in coords)
    )
    guide = (
        format_html('<line x1="{0}" y1="{1}" x2="{1}" y2="{0}" stroke="#bbb"/>', _PAD, _SIZE - _PAD)
        if diagonal
        else ""
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" aria-label="{title}">'
        '<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#888"/>{guide}'
        '<polyline points="{line}" fill="none" stroke="#264d99" stroke-width="2"/>{dots}'
        '<text x="{half}" y="16" text-anchor="middle" font-size="12">{title}</text>'
        '<text x="{half}" y="{bottom}" text-anchor="middle" font-size="11">{x_label}</text>'
        '<text x="10" y="{half}" font-size="11" transform="rotate(-90 10 {half})" text-anchor="middle">'
        "{y_label}</text></svg>",
        size=_SIZE,
        title=title,
        pad=_PAD,
        span=span,
        guide=guide,
        line=line,
        dots=dots,
        half=half,
        bottom=_SIZE - 6,
        x_label=x_label,
        y_label=y_label,
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "policy",
        "state",
        "roc_auc",
        "pr_auc",
        "threshold",
        "trained_at",
        "promoted_at",
    )
    list_filter = ("state", "policy")
    actions = ("put_in_shadow", "promote", "roll_back")
    exclude = ("artefact",)
    readonly_fields = (
        "version",
        "policy",
        "state",
        "algorithm",
        "artefact_sha256",
        "threshold",
        "target_precision",
        "label_counts",
        "window_start",
        "held_out_from",
        "window_end",
        "trained_at",
        "promoted_at",
        "figures",
        "plots",
        "beside_live",
    )

    def has_add_permission(self, request):
        return False  # models come from `train_model`, never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # scoring records point at versions; rollback needs them

    def _held(self, version) -> dict:
        return (version.metrics or {}).get("held_out", {})

    @admin.display(description="ROC-AUC (held out)")
    def roc_auc(self, version):
        value = self._held(version).get("roc_auc")
        return f"{value:.4f}" if value is not None else "—"

    @admin.display(description="PR-AUC (held out)")
    def pr_auc(self, version):
        value = self._held(version).get("pr_auc")
        return f"{value:.4f}" if value is not None else "—"

    @admin.display(description="Held-out figures")
    def figures(self, version):
        held = {k: v for k, v in self._held(version).items() if k not in ("curves", "slices")}
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(held.items()))
        slices = self._held(version).get("slices", {})
        slice_rows = format_html_join(
            "",
            "<tr><th>{}={}</th><td>n {} · positives {} · ROC-AUC {}</td></tr>",
            (
                (dim, value, part.get("n"), part.get("positives"), part.get("roc_auc", "—"))
                for dim, groups in slices.items()
                for value, part in groups.items()
            ),
        )
        return format_html("<table>{}{}</table>", rows, slice_rows)

    @admin.display(description="Plots (held out)")
    def plots(self, version):
        curves = self._held(version).get("curves", {})
        if not curves.get("pr"):
            return "—"
        pr = _svg(curves["pr"], title="Precision-recall", x_label="recall", y_label="precision")
        calibration = _svg(
            curves["calibration"], title="Calibration", x_label="predicted", y_label="observed", diagonal=True
        )
        return format_html("{} {}", pr, calibration)

    @admin.display(description="Beside the live model (latest 20 cases this model scored)")
    def beside_live(self, version):
        records = list(ScoringRecord.objects.filter(model_version=version).order_by("-scored_at")[:20])
        if not records:
            return "—"
        case_ids = [r.case_id for r in records]
        live = {
            r.case_id: r.score
            for r in ScoringRecord.objects.filter(
                case_id__in=case_ids, model_version__policy_id=version.policy_id, is_shadow=False
            ).exclude(model_version=version)
        }
        decided = {}
        for d in (
            Decision.objects.filter(
                case_id__in=case_ids,
                mode=Decision.Mode.LIVE,
                automated=False,
                review_state__in=Decision.IN_FORCE,
            )
            .select_related("action")
            .order_by("created_at")
        ):
            decided[d.case_id] = d.action.name
        rows = format_html_join(
            "",
            "<tr><td>case {}</td><td>{:.3f}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.case_id,
                    r.score,
                    f"{live[r.case_id]:.3f}" if r.case_id in live else "—",
                    decided.get(r.case_id, "—"),
                )
                for r in records
            ),
        )
        return format_html(
            "<table><tr><th>case</th><th>this</th><th>live</th><th>decision</th></tr>{}</table>", rows
        )

    def _one(self, request, queryset, service, done: str):
        if queryset.count() != 1:
            self.message_user(request, "Choose one model version.", messages.WARNING)
            return
        try:
            version = service(version_id=queryset.get().pk, actor=Actor.for_user(request.user))
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version.version} {done}.", messages.SUCCESS)

    @admin.action(description="Run in shadow beside the live model", permissions=["change"])
    def put_in_shadow(self, request, queryset):
        self._one(request, queryset, shadow_model, "now runs in shadow")

    @admin.action(
        description="Promote (only if it beats the live model on the same held-out labels)",
        permissions=["change"],
    )
    def promote(self, request, queryset):
        self._one(request, queryset, promote_model, "is live")

    @admin.action(description="Roll back to this earlier version", permissions=["change"])
    def roll_back(self, request, queryset):
        self._one(request, queryset, rollback_model, "is live again")
