package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Telemetry is what the standard OTEL_* variables configure: a tracer (nil when traces are not
// exported), a metric reader to add to the meter provider, and a logger for the access log.
// Nothing is created, and nothing dials out, for a signal that no variable turns on.
type Telemetry struct {
	Tracing *Tracing
	// MeterOptions add the OTLP or console metric reader (empty when metrics are not exported).
	MeterOptions []sdkmetric.Option
	// Logs receives request events as log records (nil when logs are not exported).
	Logs Subscriber
	// Headers are the request headers copied to attributes (OTEL_AIGW_*_HEADER_ATTRIBUTES).
	Headers HeaderMaps

	tp      *sdktrace.TracerProvider
	lp      *sdklog.LoggerProvider
	failed  atomic.Int64 // spans, metric batches and log records whose export failed
	signals []string
}

// quietOTel stops the OpenTelemetry SDK from printing export errors to stderr (its default
// handler, process-wide): each failure is counted in aigw_telemetry_export_failures_total instead.
var quietOTel = sync.OnceFunc(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })

// exportRetry bounds how long a failing export is retried in the background.
const exportRetry = 5 * time.Second

// NewTelemetry reads the OpenTelemetry environment: OTEL_{TRACES,METRICS,LOGS}_EXPORTER (otlp,
// console, none), OTEL_EXPORTER_OTLP_[{TRACES,METRICS,LOGS}_]{ENDPOINT,PROTOCOL,HEADERS,TIMEOUT,
// INSECURE}, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG],
// OTEL_METRIC_EXPORT_INTERVAL, and aigw's header mappings and privacy switches. console writes to
// stdout.
func NewTelemetry(getenv func(string) string, version string, stdout io.Writer) (*Telemetry, error) {
	quietOTel()
	t := &Telemetry{}
	res, err := newResource(getenv, version)
	if err != nil {
		return nil, err
	}
	privacy := PrivacyFromEnv(getenv)
	maps, err := HeaderMappings(getenv)
	if err != nil {
		return nil, err
	}
	t.Headers = maps
	ctx := context.Background()

	switch kind := exporterKind(getenv, "TRACES"); kind {
	case "otlp", "console":
		var exp sdktrace.SpanExporter
		if kind == "console" {
			exp, err = stdouttrace.New(stdouttrace.WithWriter(stdout))
		} else {
			exp, err = otlpTraceExporter(ctx, getenv)
		}
		if err != nil {
			return nil, fmt.Errorf("trace exporter: %w", err)
		}
		sampler, err := samplerFromEnv(getenv)
		if err != nil {
			return nil, err
		}
		// The OTLP/HTTP exporter has a processor of its own that encodes each span as it ends
		// (otlpbatch.go); the others take the SDK's batch span processor.
		batch := batchSettingsFromEnv(getenv)
		proc := sdktrace.NewBatchSpanProcessor(&countingSpanExporter{exp, &t.failed}, batchOptions(batch)...)
		if h, ok := exp.(*httpSpanExporter); ok {
			proc = newSpanBatcher(h, batch, &t.failed)
		}
		limits := spanLimits(getenv)
		t.Tracing = NewTracing(TracingConfig{Processor: proc, Resource: res, Limits: &limits, Sampler: sampler,
			Privacy: privacy, Headers: maps.Span})
		t.tp = t.Tracing.Provider()
		t.signals = append(t.signals, "traces:"+kind)
	}

	switch kind := exporterKind(getenv, "METRICS"); kind {
	case "otlp", "console":
		var exp sdkmetric.Exporter
		if kind == "console" {
			exp, err = stdoutmetric.New(stdoutmetric.WithWriter(stdout))
		} else {
			exp, err = otlpMetricExporter(ctx, getenv)
		}
		if err != nil {
			return nil, fmt.Errorf("metric exporter: %w", err)
		}
		interval := 60 * time.Second
		if ms, err := strconv.Atoi(getenv("OTEL_METRIC_EXPORT_INTERVAL")); err == nil && ms > 0 {
			interval = time.Duration(ms) * time.Millisecond
		}
		t.MeterOptions = []sdkmetric.Option{sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(&countingMetricExporter{exp, &t.failed}, sdkmetric.WithInterval(interval)))}
		t.signals = append(t.signals, "metrics:"+kind)
	}

	switch kind := exporterKind(getenv, "LOGS"); kind {
	case "otlp", "console":
		var exp sdklog.Exporter
		if kind == "console" {
			exp, err = stdoutlog.New(stdoutlog.WithWriter(stdout))
		} else {
			exp, err = otlpLogExporter(ctx, getenv)
		}
		if err != nil {
			return nil, fmt.Errorf("log exporter: %w", err)
		}
		t.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(&countingLogExporter{exp, &t.failed}, sdklog.WithExportInterval(time.Second))))
		t.Logs = &logSubscriber{logger: t.lp.Logger("github.com/aigw/aigw")}
		t.signals = append(t.signals, "logs:"+kind)
	}
	return t, nil
}

// Signals lists what is exported, e.g. "traces:otlp"; empty when nothing is.
func (t *Telemetry) Signals() []string { return t.signals }

// Failed is how many spans, metric exports and log records could not be exported.
func (t *Telemetry) Failed() int64 { return t.failed.Load() }

// ObserveExport adds aigw_telemetry_export_failures_total to m.
func (t *Telemetry) ObserveExport(m *Metrics) error {
	c, err := m.provider.Meter("github.com/aigw/aigw").Int64ObservableCounter("aigw.telemetry.export_failures",
		metric.WithDescription("Spans, metric batches and log records the OTLP exporters failed to deliver (dropped)."))
	if err != nil {
		return err
	}
	_, err = m.provider.Meter("github.com/aigw/aigw").RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(c, t.failed.Load())
		return nil
	}, c)
	return err
}

// Shutdown flushes what is queued, waiting at most until ctx is done.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	if t.Tracing != nil {
		t.Tracing.wait(ctx)
	}
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	if t.lp != nil {
		errs = append(errs, t.lp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// exporterKind is the exporter of a signal: OTEL_<SIGNAL>_EXPORTER, else "otlp" when an OTLP
// endpoint is set (generally or for the signal), else "none".
func exporterKind(getenv func(string) string, signal string) string {
	v := strings.ToLower(strings.TrimSpace(getenv("OTEL_" + signal + "_EXPORTER")))
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = strings.TrimSpace(v[:i]) // one exporter per signal
	}
	switch v {
	case "otlp", "console", "none":
		return v
	case "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != "" {
			return "otlp"
		}
	}
	return "none"
}

// otlpSettings are one signal's OTLP settings, the signal's variables before the general ones.
type otlpSettings struct {
	grpc     bool
	endpoint string // a full URL for HTTP; for gRPC, host:port (scheme decides insecure)
	insecure bool
	headers  map[string]string
	timeout  time.Duration
}

func otlpFor(getenv func(string) string, signal, path string) (otlpSettings, error) {
	get := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_" + signal + "_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	s := otlpSettings{timeout: 10 * time.Second}
	switch p := strings.ToLower(get("PROTOCOL")); p {
	case "grpc":
		s.grpc = true
	case "", "http/protobuf":
	default:
		return s, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported (use http/protobuf or grpc)", p)
	}
	ep := getenv("OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT")
	if ep == "" {
		ep = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		if ep == "" {
			ep = "http://localhost:4318"
			if s.grpc {
				ep = "http://localhost:4317"
			}
		}
		if !s.grpc {
			ep = strings.TrimSuffix(ep, "/") + path
		}
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return s, fmt.Errorf("OTLP endpoint %q is not a URL", ep)
	}
	s.insecure = u.Scheme == "http"
	if v, err := strconv.ParseBool(get("INSECURE")); err == nil && v {
		s.insecure = true
	}
	s.endpoint = ep
	if s.grpc {
		s.endpoint = u.Host
	}
	if h := get("HEADERS"); h != "" {
		s.headers = map[string]string{}
		for _, kv := range strings.Split(h, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			k, _ = url.QueryUnescape(strings.TrimSpace(k))
			v, _ = url.QueryUnescape(strings.TrimSpace(v))
			s.headers[k] = v
		}
	}
	if ms, err := strconv.Atoi(get("TIMEOUT")); err == nil && ms > 0 {
		s.timeout = time.Duration(ms) * time.Millisecond
	}
	return s, nil
}

func otlpTraceExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	s, err := otlpFor(getenv, "TRACES", "/v1/traces")
	if err != nil {
		return nil, err
	}
	if s.grpc {
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(s.endpoint), otlptracegrpc.WithHeaders(s.headers),
			otlptracegrpc.WithTimeout(s.timeout), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: exportRetry})}
		if s.insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, o...)
	}
	// HTTP/protobuf, the default protocol, through aigw's own encoder (otlpwire.go).
	get := func(name string) string { return otlpVar(getenv, "TRACES", name) }
	return newHTTPSpanExporter(s, tlsSettings{ca: get("CERTIFICATE"), cert: get("CLIENT_CERTIFICATE"), key: get("CLIENT_KEY")}, get("COMPRESSION"))
}

// otlpVar is OTEL_EXPORTER_OTLP_<SIGNAL>_<NAME>, else OTEL_EXPORTER_OTLP_<NAME>.
func otlpVar(getenv func(string) string, signal, name string) string {
	if v := getenv("OTEL_EXPORTER_OTLP_" + signal + "_" + name); v != "" {
		return v
	}
	return getenv("OTEL_EXPORTER_OTLP_" + name)
}

func otlpMetricExporter(ctx context.Context, getenv func(string) string) (sdkmetric.Exporter, error) {
	s, err := otlpFor(getenv, "METRICS", "/v1/metrics")
	if err != nil {
		return nil, err
	}
	if s.grpc {
		o := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(s.endpoint), otlpmetricgrpc.WithHeaders(s.headers),
			otlpmetricgrpc.WithTimeout(s.timeout), otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: exportRetry})}
		if s.insecure {
			o = append(o, otlpmetricgrpc.WithInsecure())
		}
		return otlpmetricgrpc.New(ctx, o...)
	}
	o := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(s.endpoint), otlpmetrichttp.WithHeaders(s.headers),
		otlpmetrichttp.WithTimeout(s.timeout), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: exportRetry})}
	if s.insecure {
		o = append(o, otlpmetrichttp.WithInsecure())
	}
	return otlpmetrichttp.New(ctx, o...)
}

func otlpLogExporter(ctx context.Context, getenv func(string) string) (sdklog.Exporter, error) {
	s, err := otlpFor(getenv, "LOGS", "/v1/logs")
	if err != nil {
		return nil, err
	}
	if s.grpc {
		o := []otlploggrpc.Option{otlploggrpc.WithEndpoint(s.endpoint), otlploggrpc.WithHeaders(s.headers),
			otlploggrpc.WithTimeout(s.timeout), otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: exportRetry})}
		if s.insecure {
			o = append(o, otlploggrpc.WithInsecure())
		}
		return otlploggrpc.New(ctx, o...)
	}
	o := []otlploghttp.Option{otlploghttp.WithEndpointURL(s.endpoint), otlploghttp.WithHeaders(s.headers),
		otlploghttp.WithTimeout(s.timeout), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: exportRetry})}
	if s.insecure {
		o = append(o, otlploghttp.WithInsecure())
	}
	return otlploghttp.New(ctx, o...)
}

// newResource is service.name (OTEL_SERVICE_NAME, default aigw), service.version and
// OTEL_RESOURCE_ATTRIBUTES (key=value pairs, percent-encoded).
func newResource(getenv func(string) string, version string) (*resource.Resource, error) {
	var kv []attribute.KeyValue
	for _, pair := range strings.Split(getenv("OTEL_RESOURCE_ATTRIBUTES"), ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		k, _ = url.PathUnescape(strings.TrimSpace(k))
		v, _ = url.PathUnescape(strings.TrimSpace(v))
		kv = append(kv, attribute.String(k, v))
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "aigw"
		for _, a := range kv {
			if a.Key == semconv.ServiceNameKey {
				name = a.Value.AsString()
			}
		}
	}
	kv = append(kv, semconv.ServiceName(name))
	if version != "" {
		kv = append(kv, semconv.ServiceVersion(version))
	}
	return resource.NewWithAttributes(semconv.SchemaURL, kv...), nil
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and its argument; the default is parent-based,
// always on.
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if v := getenv("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q is not a ratio between 0 and 1", v)
		}
		ratio = r
	}
	switch s := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))); s {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q is not supported", s)
	}
}

// batchSettings are the batch span processor's settings: OTEL_BSP_SCHEDULE_DELAY (ms, aigw's
// default 1000), OTEL_BSP_MAX_QUEUE_SIZE (2048), OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512) and
// OTEL_BSP_EXPORT_TIMEOUT (ms, 30000), read through getenv like every other variable. A span
// that finds the queue full is dropped (export never holds a request up).
type batchSettings struct {
	delay, timeout     time.Duration
	maxQueue, maxBatch int
}

func batchSettingsFromEnv(getenv func(string) string) batchSettings {
	positive := func(name string, def int) int {
		if n, err := strconv.Atoi(strings.TrimSpace(getenv(name))); err == nil && n > 0 {
			return n
		}
		return def
	}
	s := batchSettings{
		delay:    time.Duration(positive("OTEL_BSP_SCHEDULE_DELAY", 1000)) * time.Millisecond,
		timeout:  time.Duration(positive("OTEL_BSP_EXPORT_TIMEOUT", 30000)) * time.Millisecond,
		maxQueue: positive("OTEL_BSP_MAX_QUEUE_SIZE", 2048),
		maxBatch: positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
	}
	s.maxBatch = min(s.maxBatch, s.maxQueue) // as the SDK's processor does
	return s
}

// batchOptions are the settings as the SDK's batch span processor takes them.
func batchOptions(s batchSettings) []sdktrace.BatchSpanProcessorOption {
	return []sdktrace.BatchSpanProcessorOption{sdktrace.WithBatchTimeout(s.delay), sdktrace.WithExportTimeout(s.timeout),
		sdktrace.WithMaxQueueSize(s.maxQueue), sdktrace.WithMaxExportBatchSize(s.maxBatch)}
}

// spanLimits raise the SDK's 128-attribute default, which a long conversation's messages exceed;
// OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT still apply.
func spanLimits(getenv func(string) string) sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	l.AttributeCountLimit = 4096
	if n, err := strconv.Atoi(getenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")); err == nil {
		l.AttributeCountLimit = n
	}
	if n, err := strconv.Atoi(getenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")); err == nil {
		l.AttributeValueLengthLimit = n
	}
	return l
}

// countingSpanExporter counts the spans it failed to export.
type countingSpanExporter struct {
	sdktrace.SpanExporter
	failed *atomic.Int64
}

func (e *countingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.failed.Add(int64(len(spans)))
	}
	return err
}

type countingMetricExporter struct {
	sdkmetric.Exporter
	failed *atomic.Int64
}

func (e *countingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	if err != nil {
		e.failed.Add(1)
	}
	return err
}

type countingLogExporter struct {
	sdklog.Exporter
	failed *atomic.Int64
}

func (e *countingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := e.Exporter.Export(ctx, records)
	if err != nil {
		e.failed.Add(int64(len(records)))
	}
	return err
}

// logSubscriber sends each finished request to OTLP logs, with the access log's fields.
type logSubscriber struct {
	logger otellog.Logger
}

func (l *logSubscriber) OnRequest(ev *RequestEvent) {
	var r otellog.Record
	r.SetTimestamp(ev.Start.Add(ev.Duration))
	r.SetObservedTimestamp(time.Now())
	r.SetEventName("aigw.request")
	r.SetBody(attribute.StringValue("request"))
	sev := otellog.SeverityInfo
	if ev.Status >= 500 {
		sev = otellog.SeverityError
	} else if ev.Status >= 400 {
		sev = otellog.SeverityWarn
	}
	r.SetSeverity(sev)
	r.SetSeverityText(sev.String())
	kv := []attribute.KeyValue{
		attribute.String("aigw.request.id", ev.ID), attribute.String(attrOperation, ev.Operation),
		attribute.String("aigw.route", ev.Route), attribute.String("aigw.backend", ev.Backend),
		attribute.String(attrProvider, ev.Provider), attribute.String(attrOriginalModel, ev.RequestModel),
		attribute.String(attrRequestModel, ev.BackendModel), attribute.String(attrResponseModel, ev.ResponseModel),
		attribute.Int("http.response.status_code", ev.Status), attribute.Float64("aigw.duration_s", ev.Duration.Seconds()),
		attribute.Int64("gen_ai.usage.input_tokens", ev.Usage.InputTokens), attribute.Int64("gen_ai.usage.output_tokens", ev.Usage.OutputTokens),
	}
	if ev.TimeToFirstToken > 0 {
		kv = append(kv, attribute.Float64("aigw.ttft_s", ev.TimeToFirstToken.Seconds()))
	}
	if ev.Error != "" {
		kv = append(kv, attribute.String("error.message", ev.Error))
	}
	if c := ev.CostUSD; c != nil {
		kv = append(kv, attribute.String("aigw.cost_usd", c.String()))
	}
	if ev.TraceID != "" {
		kv = append(kv, attribute.String("trace_id", ev.TraceID))
	}
	for k, v := range ev.Attributes {
		kv = append(kv, attribute.String(k, v))
	}
	r.AddAttributes(kv...)
	l.logger.Emit(context.Background(), r)
}
