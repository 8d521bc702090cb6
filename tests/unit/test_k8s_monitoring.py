"""deploy/k8s's monitoring as rendered (``tests/support/kustomize.py``), checked against the code:
every ServiceMonitor endpoint names a port of the Services it selects and together they scrape every
role; the PrometheusRule and the Grafana dashboard use only metric names the code registers with
prometheus_client (``tests/support/metric_names.py``; plus a short list from Prometheus and
kube-state-metrics); every alert links a runbook section of docs/operations.md that exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.support.kustomize import ROOT, Doc, by_name, matches_labels, of_kind, render, role_deployments
from tests.support.metric_names import code_metric_series, promql_label_values, promql_metrics

OPERATIONS = ROOT / "docs" / "operations.md"
RUNBOOK_SECTION = "Alerts and runbooks"
# Metrics the rules and the dashboard may use that the app does not define: Prometheus' own
# scrape health, and kube-state-metrics (part of kube-prometheus-stack).
EXTERNAL_METRICS = {
    "up": "Prometheus (scrape health of each target)",
    "kube_pod_status_ready": "kube-state-metrics",
    "kube_deployment_status_replicas_available": "kube-state-metrics",
}


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


@pytest.fixture(scope="module")
def code_metrics() -> tuple[frozenset[str], list[str]]:
    return code_metric_series()


def _github_anchor(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    """Anchors of the headings inside docs/operations.md's "Alerts and runbooks" section."""
    anchors: set[str] = set()
    inside = False
    for line in OPERATIONS.read_text().splitlines():
        match = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if not match:
            continue
        level, title = len(match.group(1)), match.group(2)
        if level == 2:
            inside = title == RUNBOOK_SECTION
        elif inside:
            anchors.add(_github_anchor(title))
    return anchors


def _monitored_services(rendered: list[Doc], monitor: Doc) -> list[Doc]:
    spec = monitor["spec"]
    namespaces = spec.get("namespaceSelector", {}).get("matchNames", [monitor["metadata"]["namespace"]])
    return [s for s in of_kind(rendered, "Service")
            if s["metadata"]["namespace"] in namespaces
            and matches_labels(spec["selector"]["matchLabels"], s["metadata"].get("labels", {}))]


def test_every_servicemonitor_scrapes_a_named_port_of_existing_services(rendered: list[Doc]) -> None:
    """Each endpoint names a port every selected Service has, and asks /metrics; together the
    ServiceMonitors cover the pods of api, worker and gateway."""
    monitors = of_kind(rendered, "ServiceMonitor")
    assert monitors
    scraped: set[str] = set()
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        services = _monitored_services(rendered, monitor)
        assert services, f"ServiceMonitor {monitor['metadata']['name']} selects no Service"
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint.get("path", "/metrics") == "/metrics"
            for service in services:
                names = {p.get("name") for p in service["spec"]["ports"]}
                assert endpoint["port"] in names, (monitor["metadata"]["name"], endpoint["port"], names)
        scraped |= {s["metadata"]["name"] for s in services}
    for role, deployment, _ in role_deployments(rendered):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(matches_labels(s["spec"]["selector"], labels) for s in of_kind(rendered, "Service")
                   if s["metadata"]["name"] in scraped), f"no ServiceMonitor scrapes {role}"


def _jobs(rendered: list[Doc]) -> set[str]:
    """Prometheus' job label of the scraped targets: the Service name (no jobLabel is set)."""
    jobs = set()
    for monitor in of_kind(rendered, "ServiceMonitor"):
        assert "jobLabel" not in monitor["spec"], "the rules expect job = the Service's name"
        jobs |= {s["metadata"]["name"] for s in _monitored_services(rendered, monitor)}
    return jobs


# --- alerts and dashboard ---------------------------------------------------------------------


def _alerts(rendered: list[Doc]) -> list[Doc]:
    return [rule for doc in of_kind(rendered, "PrometheusRule")
            for group in doc["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def _dashboards(rendered: list[Doc]) -> list[Doc]:
    return [json.loads(text) for cm in of_kind(rendered, "ConfigMap")
            if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
            for text in cm["data"].values()]


def _dashboard_exprs(dashboard: Doc) -> list[str]:
    def panels(items: list[Doc]) -> Iterator[Doc]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))
    return [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", []) if t.get("expr")]


def test_metric_names_in_the_code_are_literal(code_metrics: tuple[frozenset[str], list[str]]) -> None:
    """Every prometheus_client metric of the shipped code has a name this test can read."""
    series, unreadable = code_metrics
    assert series, "no prometheus_client metric found in the shipped packages"
    assert not unreadable, f"metric names that are not string constants: {unreadable}"


def test_alerts_and_dashboard_use_only_metrics_the_code_defines(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """Every metric name in a rule or dashboard query is exposed by the code, or is one of the few
    Prometheus and kube-state-metrics series listed in EXTERNAL_METRICS."""
    series, _ = code_metrics
    known = series | set(EXTERNAL_METRICS)
    queries = [(rule["alert"], rule["expr"]) for rule in _alerts(rendered)]
    queries += [("dashboard", expr) for dashboard in _dashboards(rendered) for expr in _dashboard_exprs(dashboard)]
    assert queries
    unknown: dict[str, list[str]] = {}
    for where, expr in queries:
        names = promql_metrics(expr)
        assert names, (where, expr)
        for name in names - known:
            unknown.setdefault(name, []).append(where)
    assert not unknown, f"metrics no code defines: {unknown}; defined: {sorted(series)}"


def test_alerts_select_real_jobs_namespaces_and_deployments(rendered: list[Doc]) -> None:
    jobs = _jobs(rendered)
    (namespace,) = by_name(rendered, "Namespace")
    deployments = set(by_name(rendered, "Deployment"))
    for rule in _alerts(rendered):
        expr = rule["expr"]
        assert promql_label_values(expr, "job") <= jobs, (rule["alert"], promql_label_values(expr, "job"))
        assert promql_label_values(expr, "namespace") == {namespace}, rule["alert"]
        assert promql_label_values(expr, "deployment") <= deployments, rule["alert"]


def test_alerts_cover_lag_poison_5xx_push_latency_and_readiness(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """The alerts watch the series the issue asks for; each is the code's own name."""
    series, _ = code_metrics
    used = set().union(*(promql_metrics(rule["expr"]) for rule in _alerts(rendered)))
    wanted = {
        "consumer lag": {n for n in series if n.endswith("worker_consumer_lag")},
        "poison records": {n for n in series if n.endswith("worker_poison_records_total")},
        "5xx rate": {n for n in series if n.endswith("http_requests_total")},
        "push latency": {n for n in series if n.endswith("gateway_push_seconds_bucket")},
        "readiness": {"up", "kube_pod_status_ready"},
    }
    for what, names in wanted.items():
        assert names & used, (what, names)
    assert any(re.search(r'status=~"5', rule["expr"]) for rule in _alerts(rendered))


def test_every_alert_has_severity_summary_and_an_existing_runbook(rendered: list[Doc]) -> None:
    """severity (critical or warning), summary, description, and a runbook_url whose anchor is a
    heading of docs/operations.md's "Alerts and runbooks"; names are unique; each has a section."""
    alerts = _alerts(rendered)
    assert alerts
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)), names
    anchors = _runbook_anchors()
    for rule in alerts:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        url, _, anchor = annotations["runbook_url"].partition("#")
        assert url.endswith("docs/operations.md"), (rule["alert"], url)
        assert anchor in anchors, (rule["alert"], anchor, sorted(anchors))
        assert anchor == _github_anchor(rule["alert"]), (rule["alert"], anchor)
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_grafana_dashboard_is_labelled_and_has_the_panels(
    rendered: list[Doc], code_metrics: tuple[frozenset[str], list[str]],
) -> None:
    """One dashboard ConfigMap (label grafana_dashboard) with a stable uid and panels for ingest
    and 5xx, push latency, consumer lag, poison records and rejections by reason."""
    (dashboard,) = _dashboards(rendered)
    assert dashboard["uid"] and dashboard["title"]
    exprs = _dashboard_exprs(dashboard)
    used = set().union(*(promql_metrics(expr) for expr in exprs))
    series, _ = code_metrics
    for suffix in ("http_requests_total", "gateway_push_seconds_bucket", "worker_consumer_lag",
                   "worker_poison_records_total", "worker_rejected_total"):
        assert {n for n in used if n.endswith(suffix)} & series, suffix
    assert any('status=~"5' in expr for expr in exprs)
    assert any("reason" in expr for expr in exprs)


def test_promql_metrics_finds_only_metric_names() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, job) (rate(a_bucket{job=~"api|x", route="/v1/{id}"}'
            '[5m] offset 1h))) / on (job) group_left sum without (pod) (b_total) > bool 0.5 and up == 1')
    assert promql_metrics(expr) == {"a_bucket", "b_total", "up"}
    assert promql_metrics('max by (partition) (lag{namespace="$namespace"}[$__rate_interval])') == {"lag"}
    assert promql_label_values('x{job=~"api|gateway"} or y{job="worker"}', "job") == {"api", "gateway", "worker"}
