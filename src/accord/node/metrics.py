"""Prometheus metrics for one node (its own registry, so several nodes can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["NodeMetrics"]


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.appended = Counter(
            "accord_records_appended", "Records appended to the log", registry=self.registry
        )
        self.duplicates = Counter(
            "accord_records_duplicate", "Statements submitted again", registry=self.registry
        )
        self.refused = Counter(
            "accord_requests_refused",
            "Requests refused, by status",
            ["status"],
            registry=self.registry,
        )
        self.batches = Counter(
            "accord_batches", "Sequencer commits (group commits)", registry=self.registry
        )
        self.batch_seconds = Histogram(
            "accord_batch_seconds",
            "Time to plan and commit one group of requests",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.log_size = Gauge("accord_log_size", "Entries in the log", registry=self.registry)
        self.checkpoint_size = Gauge(
            "accord_checkpoint_size",
            "Size of the latest signed checkpoint",
            registry=self.registry,
        )
        self.sealed = Gauge("accord_sealed", "1 while the node is sealed", registry=self.registry)

    def on_commit(self, items: int, leaves: int, seconds: float) -> None:
        self.batches.inc()
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
