"""deploy/: the Prometheus alert rules and the Grafana dashboard use only metrics the app exports, and cover
what operators are told to watch; docker-compose runs them in the optional "observability" profile."""

import json
import re
from pathlib import Path

import pytest
import yaml

from moderation import metrics
from moderation.ops_collectors import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\bmoderation_[a-z0-9_]+\b")
EXPORTED = metrics.exported_metric_names() | METRIC_NAMES


def _alert_rules() -> list[dict]:
    document = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_exported_names_are_what_a_scrape_shows(client, settings, db):
    from tests.moderation.metrics_scrape import scrape

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # down: broker_up still exported
    client.get("/healthz")
    scraped = {name for name, _ in scrape(client, settings)}

    moderation_names = {name for name in scraped if name.startswith("moderation_")}
    assert moderation_names <= EXPORTED
    assert {"moderation_queue_depth", "moderation_broker_up", "moderation_http_requests_total"} <= scraped


def test_every_alert_rule_uses_only_exported_metrics():
    rules = _alert_rules()
    assert rules
    for rule in rules:
        used = set(METRIC.findall(rule["expr"]))
        assert used, f"{rule['alert']} names no moderation_ metric"
        assert used <= EXPORTED, f"{rule['alert']} uses {used - EXPORTED}"
        assert {"summary"} <= set(rule["annotations"]) and rule["labels"]["severity"] in {
            "warning",
            "critical",
        }


@pytest.mark.parametrize(
    "watched",
    [
        "moderation_queue_oldest_age_seconds",
        "moderation_sla_breached_cases",
        "moderation_outbox_messages",
        "moderation_worker_heartbeat_age_seconds",
        "moderation_http_requests_total",
    ],
)
def test_the_alerts_cover_queue_age_sla_deliveries_heartbeat_and_5xx(watched):
    assert any(watched in rule["expr"] for rule in _alert_rules())


def test_the_5xx_alert_reads_the_5xx_status_class():
    (rule,) = [rule for rule in _alert_rules() if rule["alert"] == "ModerationHigh5xxRate"]
    assert 'status="5xx"' in rule["expr"]


def test_the_dashboard_parses_and_charts_only_exported_metrics():
    exprs = _dashboard_exprs()
    used = {name for expr in exprs for name in METRIC.findall(expr)}

    assert used <= EXPORTED, used - EXPORTED
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in EXPORTED}
    charted = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert charted == families, f"exported but not charted: {families - charted}"


def test_prometheus_scrapes_the_web_tier_with_the_bearer_token_and_loads_the_alerts():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]

    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer" and "credentials_file" in job["authorization"]
    assert "/etc/prometheus/prometheus-alerts.yml" in config["rule_files"]


def test_compose_runs_prometheus_and_grafana_only_in_the_observability_profile():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])  # never published wide
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "deploy/prometheus.yml" in mounts and "deploy/prometheus-alerts.yml" in mounts
    assert any("grafana-dashboard.json" in volume for volume in services["grafana"]["volumes"])
    # Web and each worker container write their metrics files into their own directories of one shared
    # volume (the worker's named by its container's host name); /metrics reads them all.
    web = services["web"]["environment"]
    workers = [service for name, service in services.items() if name.startswith("worker-")]
    assert workers
    for worker in workers:
        assert (
            "PROMETHEUS_MULTIPROC_DIR=/var/lib/moderation-metrics/workers/$$HOSTNAME" in worker["command"][-1]
        )
    assert web["METRICS_MULTIPROC_DIRS"].split(",") == [
        web["PROMETHEUS_MULTIPROC_DIR"],
        "/var/lib/moderation-metrics/workers/*",
    ]


def test_nginx_never_proxies_metrics_to_the_outside():
    config = (DEPLOY / "nginx.conf").read_text()

    assert re.search(r"location = /metrics \{\s*return 404;", config)
