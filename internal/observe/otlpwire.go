package observe

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP trace request encoded straight from the SDK's finished spans (protowire), instead of
// converting each span to the generated OTLP structs and marshalling those: that conversion
// allocated four objects per attribute and the generic marshaller walked them twice, about 60 %
// of what tracing cost a request (CPU profile, November 2026). The bytes decode to the same
// ExportTraceServiceRequest the SDK's exporter builds (TestOTLPWireMatchesSDK).
//
// Field numbers are those of opentelemetry-proto v1 (collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto).

// Span flags (trace.proto SpanFlags): the parent's remoteness is known, and whether it is remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// wireGroup is the spans of one resource and instrumentation scope, in the order they came.
type wireGroup struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

// appendTraceRequest appends the ExportTraceServiceRequest of spans to b.
func appendTraceRequest(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	groups := groupSpans(spans)
	// resource_spans: one per resource, holding one scope_spans per scope.
	for i := 0; i < len(groups); {
		j := i + 1
		for j < len(groups) && sameResource(groups[j].res, groups[i].res) {
			j++
		}
		var at int
		b, at = beginMessage(b, 1)
		b = appendResourceSpans(b, groups[i:j])
		b = endMessage(b, at)
		i = j
	}
	return b
}

// lenRoom is the room left for a message's length before its fields are written: a varint of
// up to 5 bytes, enough for 32 GiB.
const lenRoom = 5

// beginMessage appends the tag of a length-delimited field and room for its length; the fields
// follow, then endMessage(b, at) writes the length. One pass over the spans, with no sizes
// computed ahead.
func beginMessage(b []byte, field protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = append(b, make([]byte, lenRoom)...)
	return b, len(b)
}

// endMessage writes the length of the message begun at at, moving its fields next to it.
func endMessage(b []byte, at int) []byte {
	n := len(b) - at
	var v [lenRoom]byte
	l := protowire.AppendVarint(v[:0], uint64(n))
	copy(b[at-lenRoom:], l)
	if len(l) < lenRoom {
		copy(b[at-lenRoom+len(l):], b[at:])
	}
	return b[:at-lenRoom+len(l)+n]
}

// groupSpans orders spans by resource, then scope, keeping their order within each.
func groupSpans(spans []sdktrace.ReadOnlySpan) []wireGroup {
	var groups []wireGroup
next:
	for _, s := range spans {
		if s == nil {
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		for i := range groups {
			if groups[i].scope == scope && sameResource(groups[i].res, res) {
				groups[i].spans = append(groups[i].spans, s)
				continue next
			}
		}
		// Keep a resource's groups together.
		at := len(groups)
		for i := len(groups) - 1; i >= 0; i-- {
			if sameResource(groups[i].res, res) {
				at = i + 1
				break
			}
		}
		groups = append(groups, wireGroup{})
		copy(groups[at+1:], groups[at:])
		groups[at] = wireGroup{res: res, scope: scope, spans: make([]sdktrace.ReadOnlySpan, 0, len(spans))}
		groups[at].spans = append(groups[at].spans, s)
	}
	return groups
}

func sameResource(a, b *resource.Resource) bool {
	return a == b || (a != nil && b != nil && a.Equivalent() == b.Equivalent())
}

func appendResourceSpans(b []byte, gs []wireGroup) []byte {
	b = appendResourceField(b, gs[0].res)
	for _, g := range gs {
		var at int
		b, at = beginMessage(b, 2)
		b = appendScopeSpans(b, g)
		b = endMessage(b, at)
	}
	return appendResourceSchema(b, gs[0].res)
}

// appendResourceField appends ResourceSpans' resource (field 1), if there is one.
func appendResourceField(b []byte, r *resource.Resource) []byte {
	if r == nil {
		return b
	}
	b, at := beginMessage(b, 1)
	for it := r.Iter(); it.Next(); {
		b = appendKeyValue(b, 1, it.Attribute())
	}
	return endMessage(b, at)
}

// appendResourceSchema appends ResourceSpans' schema_url (field 3).
func appendResourceSchema(b []byte, r *resource.Resource) []byte {
	if r == nil {
		return b
	}
	return appendString(b, 3, r.SchemaURL())
}

func appendScopeSpans(b []byte, g wireGroup) []byte {
	b = appendScopeField(b, g.scope)
	for _, s := range g.spans {
		b = appendSpanField(b, s)
	}
	return appendString(b, 3, g.scope.SchemaURL)
}

// appendScopeField appends ScopeSpans' scope (field 1), unless it is the zero scope.
func appendScopeField(b []byte, scope instrumentation.Scope) []byte {
	if scope == (instrumentation.Scope{}) {
		return b
	}
	b, at := beginMessage(b, 1)
	b = appendString(b, 1, scope.Name)
	b = appendString(b, 2, scope.Version)
	for it := scope.Attributes.Iter(); it.Next(); {
		b = appendKeyValue(b, 3, it.Attribute())
	}
	return endMessage(b, at)
}

// wireSpan is what the encoder reads of a span: a finished SDK span's fields (wireOf), or a span
// aigw describes itself without making one (tracespans.go).
type wireSpan struct {
	name                                      string
	sc, parent                                trace.SpanContext
	kind                                      trace.SpanKind
	start, end                                time.Time
	attrs                                     []attribute.KeyValue
	events                                    []sdktrace.Event
	links                                     []sdktrace.Link
	status                                    sdktrace.Status
	droppedAttrs, droppedEvents, droppedLinks int
}

// wireOf reads a finished span's fields (the SDK's read-only spans hand out their own slices).
func wireOf(s sdktrace.ReadOnlySpan) wireSpan {
	return wireSpan{name: s.Name(), sc: s.SpanContext(), parent: s.Parent(), kind: s.SpanKind(),
		start: s.StartTime(), end: s.EndTime(), attrs: s.Attributes(), events: s.Events(), links: s.Links(),
		status: s.Status(), droppedAttrs: s.DroppedAttributes(), droppedEvents: s.DroppedEvents(), droppedLinks: s.DroppedLinks()}
}

// appendSpanField appends s as one of ScopeSpans' spans (field 2).
func appendSpanField(b []byte, s sdktrace.ReadOnlySpan) []byte {
	w := wireOf(s)
	return appendWireSpanField(b, &w)
}

// appendWireSpanField appends w as one of ScopeSpans' spans (field 2).
func appendWireSpanField(b []byte, w *wireSpan) []byte {
	b, at := beginMessage(b, 2)
	b = appendSpan(b, w)
	return endMessage(b, at)
}

func appendSpan(b []byte, s *wireSpan) []byte {
	sc, parent := s.sc, s.parent
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, 1, tid[:])
	b = appendBytes(b, 2, sid[:])
	b = appendString(b, 3, traceState(sc))
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, 4, psid[:])
	}
	b = appendString(b, 5, s.name)
	if k := spanKind(s.kind); k != 0 {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, k)
	}
	b = protowire.AppendTag(b, 7, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.start.UnixNano()))
	b = protowire.AppendTag(b, 8, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.end.UnixNano()))
	for _, kv := range s.attrs {
		b = appendKeyValue(b, 9, kv)
	}
	b = appendUint(b, 10, s.droppedAttrs)
	var at int
	for _, e := range s.events {
		b, at = beginMessage(b, 11)
		b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, unixNano(e.Time.UnixNano()))
		b = appendString(b, 2, e.Name)
		for _, kv := range e.Attributes {
			b = appendKeyValue(b, 3, kv)
		}
		b = appendUint(b, 4, e.DroppedAttributeCount)
		b = endMessage(b, at)
	}
	b = appendUint(b, 12, s.droppedEvents)
	for _, l := range s.links {
		b, at = beginMessage(b, 13)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = appendBytes(b, 1, ltid[:])
		b = appendBytes(b, 2, lsid[:])
		b = appendString(b, 3, traceState(l.SpanContext))
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, 4, kv)
		}
		b = appendUint(b, 5, l.DroppedAttributeCount)
		b = protowire.AppendTag(b, 6, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		b = endMessage(b, at)
	}
	b = appendUint(b, 14, s.droppedLinks)
	st := s.status
	b, at = beginMessage(b, 15)
	b = appendString(b, 2, st.Description)
	if c := statusCode(st.Code); c != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, c)
	}
	b = endMessage(b, at)
	b = protowire.AppendTag(b, 16, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, spanFlags(sc.TraceFlags(), parent))
}

// statusCode is trace.proto's Status.StatusCode.
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

// spanKind is trace.proto's Span.SpanKind.
func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

// spanFlags are the W3C trace flags and whether the parent is remote.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

// traceState is the W3C tracestate of sc ("" without allocating when there is none).
func traceState(sc trace.SpanContext) string {
	if sc.TraceState().Len() == 0 {
		return ""
	}
	return sc.TraceState().String()
}

func unixNano(n int64) uint64 { return uint64(max(0, n)) }

// keyValueSize is the size of a common.proto KeyValue's fields.
func keyValueSize(kv attribute.KeyValue) int {
	return stringField(1, string(kv.Key)) + lenField(2, anyValueSize(kv.Value))
}

func appendKeyValue(b []byte, field protowire.Number, kv attribute.KeyValue) []byte {
	// Strings and integers, nearly every attribute a request has, are written in one go: the
	// sizes worked out once, every tag a byte.
	key := string(kv.Key)
	ks := 0
	if key != "" {
		ks = 1 + protowire.SizeVarint(uint64(len(key))) + len(key)
	}
	switch kv.Value.Type() {
	case attribute.STRING:
		v := kv.Value.AsString()
		vs := 1 + protowire.SizeVarint(uint64(len(v))) + len(v)
		b = appendKeyValueHead(b, field, key, ks, vs)
		b = append(b, 1<<3|byte(protowire.BytesType))
		b = protowire.AppendVarint(b, uint64(len(v)))
		return append(b, v...)
	case attribute.INT64:
		v := uint64(kv.Value.AsInt64())
		b = appendKeyValueHead(b, field, key, ks, 1+protowire.SizeVarint(v))
		b = append(b, 3<<3|byte(protowire.VarintType))
		return protowire.AppendVarint(b, v)
	}
	vs := anyValueSize(kv.Value)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(stringField(1, string(kv.Key))+lenField(2, vs)))
	b = appendString(b, 1, string(kv.Key))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(vs))
	return appendAnyValue(b, kv.Value)
}

// appendKeyValueHead writes a KeyValue's tag and length, its key (ks bytes with their tag) and
// the tag and length of its AnyValue of vs bytes.
func appendKeyValueHead(b []byte, field protowire.Number, key string, ks, vs int) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(ks+1+protowire.SizeVarint(uint64(vs))+vs))
	if ks > 0 {
		b = append(b, 1<<3|byte(protowire.BytesType))
		b = protowire.AppendVarint(b, uint64(len(key)))
		b = append(b, key...)
	}
	b = append(b, 2<<3|byte(protowire.BytesType))
	return protowire.AppendVarint(b, uint64(vs))
}

// anyValueSize is the size of a common.proto AnyValue's fields: one member of its oneof, set
// even when zero (an empty string is a string); nothing for an empty value.
func anyValueSize(v attribute.Value) int {
	switch v.Type() {
	case attribute.BOOL:
		return protowire.SizeTag(2) + 1
	case attribute.INT64:
		return protowire.SizeTag(3) + protowire.SizeVarint(uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return protowire.SizeTag(4) + 8
	case attribute.STRING:
		return oneofBytes(1, len(v.AsString()))
	case attribute.BYTESLICE:
		return oneofBytes(7, len(v.AsByteSlice()))
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		return lenField(5, arrayValueSize(v))
	case attribute.MAP:
		n := 0
		for _, kv := range v.AsMap() {
			n += lenField(1, keyValueSize(kv))
		}
		return lenField(6, n)
	case attribute.EMPTY:
		return 0
	}
	return oneofBytes(1, len("INVALID"))
}

func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendString(b, v.AsString())
	case attribute.BYTESLICE:
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		return protowire.AppendBytes(b, v.AsByteSlice())
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(arrayValueSize(v)))
		return appendArrayValue(b, v)
	case attribute.MAP:
		m := v.AsMap()
		n := 0
		for _, kv := range m {
			n += lenField(1, keyValueSize(kv))
		}
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		for _, kv := range m {
			b = appendKeyValue(b, 1, kv)
		}
		return b
	case attribute.EMPTY:
		return b
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendString(b, "INVALID")
}

// arrayValueSize is the size of an ArrayValue's values (each an AnyValue).
func arrayValueSize(v attribute.Value) int {
	n := 0
	switch v.Type() {
	case attribute.BOOLSLICE:
		n = len(v.AsBoolSlice()) * lenField(1, protowire.SizeTag(2)+1)
	case attribute.INT64SLICE:
		for _, x := range v.AsInt64Slice() {
			n += lenField(1, protowire.SizeTag(3)+protowire.SizeVarint(uint64(x)))
		}
	case attribute.FLOAT64SLICE:
		n = len(v.AsFloat64Slice()) * lenField(1, protowire.SizeTag(4)+8)
	case attribute.STRINGSLICE:
		for _, s := range v.AsStringSlice() {
			n += lenField(1, oneofBytes(1, len(s)))
		}
	case attribute.SLICE:
		for _, x := range v.AsSlice() {
			n += lenField(1, anyValueSize(x))
		}
	}
	return n
}

func appendArrayValue(b []byte, v attribute.Value) []byte {
	elem := func(b []byte, size int) []byte {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendVarint(b, uint64(size))
	}
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, x := range v.AsBoolSlice() {
			b = elem(b, protowire.SizeTag(2)+1)
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(x))
		}
	case attribute.INT64SLICE:
		for _, x := range v.AsInt64Slice() {
			b = elem(b, protowire.SizeTag(3)+protowire.SizeVarint(uint64(x)))
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(x))
		}
	case attribute.FLOAT64SLICE:
		for _, x := range v.AsFloat64Slice() {
			b = elem(b, protowire.SizeTag(4)+8)
			b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(x))
		}
	case attribute.STRINGSLICE:
		for _, s := range v.AsStringSlice() {
			b = elem(b, oneofBytes(1, len(s)))
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	case attribute.SLICE:
		for _, x := range v.AsSlice() {
			b = elem(b, anyValueSize(x))
			b = appendAnyValue(b, x)
		}
	}
	return b
}

// lenField is the size of a length-delimited field holding n bytes.
func lenField(field protowire.Number, n int) int {
	return protowire.SizeTag(field) + protowire.SizeBytes(n)
}

// oneofBytes is lenField for a field written even when empty.
func oneofBytes(field protowire.Number, n int) int { return lenField(field, n) }

// stringField is the size of a string field, absent when empty (proto3).
func stringField(field protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return lenField(field, len(s))
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, field protowire.Number, p []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, p)
}

func appendUint(b []byte, field protowire.Number, v int) []byte {
	if v <= 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(min(v, math.MaxUint32)))
}
