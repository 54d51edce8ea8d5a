"""OpenTelemetry traces that follow one command: HTTP -> store -> relay -> Kafka -> worker -> report -> store.

- HTTP: FastAPI's own telemetry (:func:`http_telemetry`) opens a server span per request.
- Store: :func:`trace_saves` opens ``event_store.save`` around every save of the application.
- Across the store: the relay runs in another process, later. The entrypoints record the W3C
  ``traceparent`` of the command's span in the events' meta (:func:`current_traceparent`), and the relay
  publishes each event's messages inside a span continued from it (:func:`continued`).
- Kafka: FastStream's ``KafkaTelemetryMiddleware`` writes W3C trace context into the message headers on
  publish and continues it on consume, so the worker's job span and the report it sends, and the write
  side's handling of that report, join the same trace.
- Logs: :func:`add_trace_ids` puts ``trace_id`` and ``span_id`` on every structlog line written in a span.

Spans go where ``OMNI_TRACES_EXPORTER`` says: ``otlp`` (the standard ``OTEL_EXPORTER_OTLP_*`` variables
choose the collector), ``console``, ``jsonl`` (a file per process under ``OMNI_TRACES_DIR``), or ``none``. With ``none`` spans are still made, so trace ids reach the
logs and the Kafka headers, and a later hop that does export keeps the trace whole.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER_NAME = "omni.connections"
# Requests that probes and scrapers send every few seconds would drown the traces that matter.
_UNTRACED_PATHS = re.compile("/health/.*|/metrics")


def configure_tracing(service: str, exporter: str = "none", extra: SpanExporter | None = None,
                      directory: Path | None = None) -> TracerProvider:
    """Install this process's tracer provider (once: OpenTelemetry allows one per process) and return it.

    ``extra`` adds a span exporter (tests pass an in-memory one). A second call adds its ``extra`` to the
    provider already installed instead of replacing it.
    """
    global _exporting
    current = trace.get_tracer_provider()
    provider = current if isinstance(current, TracerProvider) else TracerProvider(
        resource=Resource.create({"service.name": service}))
    chosen = _exporter(exporter, directory or Path("."), service)
    for span_exporter in (chosen, extra):
        if span_exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(span_exporter))
            _exporting = True
    if provider is not current:
        trace.set_tracer_provider(provider)
    return provider


_exporting = False  # whether configure_tracing gave this process an exporter


def exporting() -> bool:
    """Whether this process's spans go anywhere: without an exporter a span is made and dropped unseen."""
    return _exporting


def _exporter(name: str, directory: Path, service: str) -> SpanExporter | None:
    if name == "jsonl":
        return JsonLinesExporter(directory / f"{service}-{os.getpid()}.jsonl")
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout: the standard OTEL_EXPORTER_OTLP_* variables
    if name == "console":
        return ConsoleSpanExporter()
    return None


class JsonLinesExporter(SpanExporter):
    """Each finished span as one JSON line in a file of this process: traces without a collector (debugging,
    and the end-to-end test that follows one command through every process)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            self._file.write(json.dumps(_as_dict(span), default=str) + "\n")  # bytes (message keys) as text
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def _as_dict(span: ReadableSpan) -> dict[str, Any]:
    """A span in the shape of the SDK's ``to_json`` (hex ids), which cannot take every attribute value."""
    context = span.get_span_context()
    return {
        "name": span.name, "kind": str(span.kind),
        "context": {"trace_id": f"0x{context.trace_id:032x}", "span_id": f"0x{context.span_id:016x}"},
        "parent_id": f"0x{span.parent.span_id:016x}" if span.parent is not None else None,
        "start_time": span.start_time, "end_time": span.end_time, "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}), "resource": {"attributes": dict(span.resource.attributes)},
    }


def tracer() -> trace.Tracer:
    return trace.get_tracer(_TRACER_NAME)


def kafka_middleware() -> Any:
    """FastStream's telemetry middleware for a Kafka broker (W3C trace context in the message headers).

    It looks the tracer provider up lazily, so brokers may be built before :func:`configure_tracing` runs.
    """
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return KafkaTelemetryMiddleware()


def http_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry, for ``FastAPI(telemetry=...)``: a server span per HTTP request, named by
    method and route as FastAPI routes it (``POST /v1/connections``), continuing an incoming ``traceparent``;
    health checks and scrapes left out.

    Cheaper than OpenTelemetry's ASGI instrumentation, which matched every route a second time to name its
    span (about a fifth of the write API's event-loop CPU). No metrics (Prometheus has them) and
    no OpenTelemetry log records (they would carry exception messages, which may quote secrets).
    """
    return {"tracing": True, "metrics": False, "logs": False, "operation_spans": False, "exclude": _untraced}


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return _UNTRACED_PATHS.fullmatch(scope.get("path", "")) is not None


def trace_saves(app: Any) -> None:
    """An ``event_store.save`` span around every save of an eventsourcing application (put on the instance)."""
    save = app.save

    @functools.wraps(save)
    def traced_save(*objs: Any, **kwargs: Any) -> Any:
        with tracer().start_as_current_span("event_store.save") as span:
            recordings = save(*objs, **kwargs)
            span.set_attribute("omni.events", len(recordings))
            if recordings:
                span.set_attribute("omni.store_position", recordings[-1].notification.id)
            return recordings

    app.save = traced_save


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to be stored with the events it causes (None outside one)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continued(traceparent: str | None, name: str, **attributes: Any) -> Iterator[None]:
    """A span continuing the trace a stored ``traceparent`` started (a new trace when there is none)."""
    with tracer().start_as_current_span(name, context=stored_context(traceparent), attributes=attributes):
        yield


def stored_context(traceparent: str | None) -> Context | None:
    """The context a stored ``traceparent`` names, to start spans in (``None``: they start a new trace)."""
    return _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None


def add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` (hex) on every line written in one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event
