"""Observability: the metrics every process exports (later traces, logs, and the Prometheus
configuration)."""
