// watchers: holds N SSE watch streams open on discoveryd while it writes a
// stream of changes, and measures how long each change takes to reach every
// watcher (benchmarks/scale/run.sh). Standard library only.
//
//	watchers -url http://127.0.0.1:8080 -token-file FILE -watchers 10000 \
//	         -events 100 -rate 5 [-pid DAEMON_PID] [-json OUT]
//
// Each change is a new registration (company "scalewatch") whose metadata
// carries the time it was sent and its sequence number; a watcher that reads
// the event computes the delivery latency (same host, same clock). Prints
// progress to standard error and a JSON summary to -json (or standard output):
// open time, the daemon's resident memory before and after opening the streams
// and after the changes, latency p50/p99/max over every (watcher, event), and
// how many watchers saw every event.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type watcher struct {
	latencies []int64 // by sequence number; -1 until seen
	seen      int32
	err       error
}

func rssKiB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			return v
		}
	}
	return 0
}

func raiseNoFile(n uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < n {
		lim.Cur = n
		if lim.Max < n {
			lim.Cur = lim.Max
		}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

var marker = []byte(`"benchSeq":`)
var sentMarker = []byte(`"benchSentNs":`)

func number(line, key []byte) (int64, bool) {
	i := bytes.Index(line, key)
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(key):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return v, err == nil
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "discoveryd base URL")
	tokenFile := flag.String("token-file", "", "file holding a bearer token")
	count := flag.Int("watchers", 10000, "SSE streams to open")
	events := flag.Int("events", 100, "changes to write")
	rate := flag.Float64("rate", 5, "changes per second")
	pid := flag.Int("pid", 0, "discoveryd's pid, for its resident memory")
	settle := flag.Duration("settle", 3*time.Second, "wait after opening, before writing")
	drain := flag.Duration("drain", 30*time.Second, "longest wait for the last events after writing")
	out := flag.String("json", "", "write the summary here (default: standard output)")
	flag.Parse()
	tokenBytes, err := os.ReadFile(*tokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchers:", err)
		os.Exit(2)
	}
	token := strings.TrimSpace(string(tokenBytes))
	raiseNoFile(uint64(*count) + 1024)

	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: transport}
	watchers := make([]*watcher, *count)
	var opened, failed, totalSeen int64
	var wg sync.WaitGroup
	rssBefore := rssKiB(*pid)
	openStart := time.Now()
	openOne := func(w *watcher, ready *sync.WaitGroup) {
		defer wg.Done()
		req, _ := http.NewRequest("GET", *url+"/api/v1/services/watch", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
				resp.Body.Close()
			}
			w.err = err
			atomic.AddInt64(&failed, 1)
			ready.Done()
			return
		}
		atomic.AddInt64(&opened, 1)
		ready.Done()
		defer resp.Body.Close()
		scanner := bufio.NewScanner(resp.Body)
		scanner.Buffer(make([]byte, 4096), 4<<20)
		for scanner.Scan() {
			line := scanner.Bytes()
			if !bytes.HasPrefix(line, []byte("data:")) {
				continue
			}
			now := time.Now().UnixNano()
			seq, ok := number(line, marker)
			if !ok || seq < 0 || int(seq) >= len(w.latencies) {
				continue
			}
			sent, ok := number(line, sentMarker)
			if !ok || w.latencies[seq] >= 0 {
				continue
			}
			w.latencies[seq] = now - sent
			atomic.AddInt32(&w.seen, 1)
			atomic.AddInt64(&totalSeen, 1)
		}
		if err := scanner.Err(); err != nil && err != io.EOF {
			w.err = err
		}
	}
	// Open in waves so the listener's backlog is never the bottleneck.
	const wave = 500
	for start := 0; start < *count; start += wave {
		end := start + wave
		if end > *count {
			end = *count
		}
		var ready sync.WaitGroup
		for i := start; i < end; i++ {
			w := &watcher{latencies: make([]int64, *events)}
			for k := range w.latencies {
				w.latencies[k] = -1
			}
			watchers[i] = w
			wg.Add(1)
			ready.Add(1)
			go openOne(w, &ready)
		}
		ready.Wait()
		if end%2000 == 0 || end == *count {
			fmt.Fprintf(os.Stderr, "  watchers open: %d / %d (%d refused)\n", atomic.LoadInt64(&opened), *count, atomic.LoadInt64(&failed))
		}
	}
	openSeconds := time.Since(openStart).Seconds()
	time.Sleep(*settle)
	rssOpen := rssKiB(*pid)

	// The change stream, on a few keep-alive connections of its own.
	writer := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	interval := time.Duration(float64(time.Second) / *rate)
	written := 0
	writeErrors := 0
	fmt.Fprintf(os.Stderr, "  writing %d changes at %.1f/s\n", *events, *rate)
	writeStart := time.Now()
	runID := time.Now().UnixNano()
	for k := 0; k < *events; k++ {
		next := writeStart.Add(time.Duration(k) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		body := fmt.Sprintf(`{"companyName":"scalewatch","instanceId":"w-%d-%d",`+
			`"serviceInfo":{"version":"1.0.0","region":"us-west1","environment":"production",`+
			`"capabilities":["tools"],"endpoints":{"primary":"https://mcp.scalewatch.example"}},`+
			`"tags":["bench"],"metadata":{"benchSeq":%d,"benchSentNs":%d}}`, runID, k, k, time.Now().UnixNano())
		req, _ := http.NewRequest("POST", *url+"/api/v1/services/register", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := writer.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			writeErrors++
			if err == nil {
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				fmt.Fprintf(os.Stderr, "  write %d: status %d %s\n", k, resp.StatusCode, msg)
			} else {
				fmt.Fprintf(os.Stderr, "  write %d: %v\n", k, err)
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		written++
		if (k+1)%50 == 0 {
			fmt.Fprintf(os.Stderr, "  written %d, deliveries so far %d / %d\n", k+1, atomic.LoadInt64(&totalSeen), int64(k+1)*opened)
		}
	}
	want := int64(written) * atomic.LoadInt64(&opened)
	deadline := time.Now().Add(*drain)
	for atomic.LoadInt64(&totalSeen) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rssAfter := rssKiB(*pid)
	fmt.Fprintf(os.Stderr, "  deliveries %d / %d\n", atomic.LoadInt64(&totalSeen), want)

	// Every (watcher, event) latency, in milliseconds.
	all := make([]float64, 0, want)
	complete := 0
	for _, w := range watchers {
		if w.err != nil && atomic.LoadInt32(&w.seen) == 0 && w.latencies == nil {
			continue
		}
		if int(atomic.LoadInt32(&w.seen)) == written {
			complete++
		}
		for _, l := range w.latencies {
			if l >= 0 {
				all = append(all, float64(l)/1e6)
			}
		}
	}
	sort.Float64s(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)-1))
		return all[i]
	}
	summary := map[string]any{
		"watchers":          *count,
		"opened":            opened,
		"refused":           failed,
		"open_seconds":      openSeconds,
		"events_written":    written,
		"write_errors":      writeErrors,
		"rate":              *rate,
		"deliveries":        len(all),
		"deliveries_wanted": want,
		"complete_watchers": complete,
		"latency_ms_p50":    pct(0.50),
		"latency_ms_p99":    pct(0.99),
		"latency_ms_max":    pct(1.0),
		"rss_kib_before":    rssBefore,
		"rss_kib_open":      rssOpen,
		"rss_kib_after":     rssAfter,
	}
	text, _ := json.MarshalIndent(summary, "", "  ")
	if *out != "" {
		os.WriteFile(*out, append(text, '\n'), 0o644)
	} else {
		fmt.Println(string(text))
	}
	// Streams close as the process exits.
}
