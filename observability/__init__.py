"""Observability: the metrics, traces and JSON logs every process emits, the request-observing
middleware, and the Prometheus and Alertmanager configurations with the files they read
(alert rules and templates, dashboards: ``observability.bundled``)."""
