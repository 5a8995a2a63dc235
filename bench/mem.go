package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// heapMetric is the Go heap occupied by objects, live or not yet swept; reading it, unlike
// runtime.ReadMemStats, does not stop the world in the middle of a measurement.
const heapMetric = "/memory/classes/heap/objects:bytes"

// memWatch records, per measured target, the peak resident set and the peak Go heap of this
// process while that target was under load. The process holds the load generator, the simulator,
// the bare proxy and aigw at once, so only the differences between targets point at one of them.
type memWatch struct {
	canReset bool // /proc/self/clear_refs accepted a peak reset, so peaks are per segment

	mu      sync.Mutex
	tag     string
	peakRSS uint64 // the whole run's peak: every VmHWM read before a reset, and the last
	rss     map[string]uint64
	heap    map[string]uint64

	stop chan struct{}
	done chan struct{}
}

// newMemWatch starts sampling the Go heap every 20ms until close.
func newMemWatch() *memWatch {
	m := &memWatch{rss: map[string]uint64{}, heap: map[string]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	m.processPeak()
	m.canReset = resetPeakRSS() == nil
	go func() {
		defer close(m.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sampleHeap()
			}
		}
	}()
	return m
}

// begin starts a segment of load on the target named tag, resetting the kernel's peak RSS.
func (m *memWatch) begin(tag string) {
	m.processPeak() // fold in the peak since the last reset before losing it
	if m.canReset {
		_ = resetPeakRSS()
	}
	m.mu.Lock()
	m.tag = tag
	m.mu.Unlock()
}

// processPeak is the process's VmHWM over the whole run so far, across peak resets.
func (m *memWatch) processPeak() uint64 {
	hwm, _ := procStatus("VmHWM")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peakRSS = max(m.peakRSS, hwm)
	return m.peakRSS
}

// end closes the segment, folding its peak RSS into the target's.
func (m *memWatch) end() {
	m.sampleHeap()
	hwm, _ := procStatus("VmHWM")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peakRSS = max(m.peakRSS, hwm)
	if m.canReset && hwm > m.rss[m.tag] {
		m.rss[m.tag] = hwm
	}
	m.tag = ""
}

func (m *memWatch) sampleHeap() {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	v := s[0].Value.Uint64()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tag != "" && v > m.heap[m.tag] {
		m.heap[m.tag] = v
	}
}

// peaks returns the peak RSS (0 when the kernel cannot reset it) and peak heap seen for tag.
func (m *memWatch) peaks(tag string) (rss, heap uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rss[tag], m.heap[tag]
}

func (m *memWatch) close() {
	close(m.stop)
	<-m.done
}

// resetPeakRSS makes the kernel restart VmHWM from the current RSS (Linux 4.0+, see proc(5)).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatus reads one "Name:   N kB" field of /proc/self/status, in bytes.
func procStatus(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	prefix := []byte(field + ":")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		fields := bytes.Fields(line[len(prefix):])
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, os.ErrNotExist
}
