"""OpenTelemetry: tracer set-up from the standard OTEL_* environment, and W3C trace
context carried in gRPC metadata (injected by clients, extracted by the servers'
interceptor so their spans join the caller's trace)."""

from __future__ import annotations

import inspect
import os
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from common.handlers import Behavior, ServiceInterceptor, rewrap

_configured = False


def _exporter() -> SpanExporter | None:
    """The exporter the environment asks for: OTLP when an endpoint is set, or console."""
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    if choice == "console":
        return ConsoleSpanExporter()
    endpoint_set = any(os.environ.get(k) for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    if choice == "otlp" and endpoint_set:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def setup_tracing(service_name: str) -> None:
    """Install the SDK tracer provider once; spans are exported only if OTEL_* asks.

    OTEL_SERVICE_NAME overrides service_name; OTEL_TRACES_SAMPLER and the
    other standard variables are read by the SDK itself.
    """
    global _configured
    if _configured or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


def shutdown_tracing() -> None:
    """Flush pending spans."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying the current span's W3C trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())


class TracingInterceptor(ServiceInterceptor):
    """Runs every RPC inside a SERVER span whose parent comes from the call's metadata."""

    def __init__(self) -> None:
        self._tracer = trace.get_tracer("lingua.server")

    def intercept(self, handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, Any]) -> grpc.RpcMethodHandler:
        parent = propagate.extract(metadata)
        name = method.lstrip("/")
        tracer = self._tracer

        def wrap(behavior: Behavior) -> Behavior:
            if inspect.isasyncgenfunction(behavior):

                async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                    # Made current for the rest of the RPC's own task and never detached: a
                    # context attached across `yield` cannot be detached when the client
                    # cancels (the generator is closed in another context).
                    span = tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER)
                    otel_context.attach(trace.set_span_in_context(span, parent))
                    try:
                        async for item in behavior(request, context):
                            yield item
                    finally:
                        span.end()

                return stream

            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER):
                    return await behavior(request, context)

            return call

        return rewrap(handler, wrap)
