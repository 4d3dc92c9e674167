"""Scraping `/metrics` as Prometheus does, for the tests: the token, the text format parsed into samples."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token-0123456789"


def scrape(client, settings) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape: {(sample name, frozenset of label items): value}."""
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    """A sample's value, 0 when the scrape does not have it (a counter nobody incremented yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
