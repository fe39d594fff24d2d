package discovery_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-discovery/mcp-discovery/bindings/go/discovery"
	"github.com/mcp-discovery/mcp-discovery/bindings/go/discoverytest"
)

func admin() *discovery.Client {
	return clientFor(daemon, discoverytest.Claims{Sao: "diamond", Subject: "admin"})
}

// must(call())(t) is call's value, or fails the test with its error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestRegisterReregisterGet(t *testing.T) {
	ctx := context.Background()
	company := uniq("reg")
	c := clientFor(daemon, discoverytest.Claims{Sao: "sapphire", Company: company})
	reg := registration(company)
	first := must(c.Register(ctx, reg))(t)
	if first.Status != discovery.StatusActive || first.SaoLevel != discovery.Sapphire {
		t.Fatalf("status %q level %q", first.Status, first.SaoLevel)
	}
	if first.Domain != "mcp."+company+".example.com" || first.HealthCheckConfig.Interval != "30s" ||
		first.HealthCheckConfig.TTL != nil || first.HealthCheckConfig.ExpectedStatus != "200" {
		t.Fatalf("defaults not filled: %+v", first)
	}
	ranged := registration(company)
	ranged.HealthCheckConfig = &discovery.HealthCheckSettings{ExpectedStatus: "200-299", Endpoints: []string{"/ready"}}
	if r := must(c.Register(ctx, ranged))(t); r.HealthCheckConfig.ExpectedStatus != "200-299" {
		t.Fatalf("expectedStatus range: %q", r.HealthCheckConfig.ExpectedStatus)
	}
	reg.Tags = []string{"beta"}
	again := must(c.Register(ctx, reg))(t)
	if again.ServiceID != first.ServiceID || !again.RegisteredAt.Equal(first.RegisteredAt) {
		t.Fatalf("re-registration changed identity: %s %s", again.ServiceID, again.RegisteredAt)
	}
	got := must(c.Get(ctx, first.ServiceID))(t)
	if !reflect.DeepEqual(got, again) {
		t.Fatalf("get = %+v, want %+v", got, again)
	}
}

func TestPatchIsAMergePatch(t *testing.T) {
	ctx := context.Background()
	c := admin()
	reg := registration(uniq("patch"))
	reg.Tags = []string{"a", "b"}
	reg.Metadata = map[string]any{"owner": "x", "team": "y"}
	rec := must(c.Register(ctx, reg))(t)
	patched := must(c.Patch(ctx, rec.ServiceID, discovery.MergePatch{
		"tags":        []string{"c"},
		"metadata":    map[string]any{"team": nil, "tier": "gold"},
		"serviceInfo": map[string]any{"version": "2.0.0"},
	}))(t)
	if !reflect.DeepEqual(patched.Tags, []string{"c"}) ||
		!reflect.DeepEqual(patched.Metadata, map[string]any{"owner": "x", "tier": "gold"}) ||
		patched.ServiceInfo.Version != "2.0.0" || patched.ServiceInfo.Region != "us-west1" {
		t.Fatalf("patched: %+v", patched)
	}
}

func TestStatusHeartbeatHealth(t *testing.T) {
	ctx := context.Background()
	company := uniq("hb")
	c := clientFor(daemon, discoverytest.Claims{Sao: "sapphire", Company: company})
	plain := must(c.Register(ctx, registration(company)))(t)
	beat := must(c.Heartbeat(ctx, plain.ServiceID))(t)
	if beat.ExpiresAt != nil || beat.Status != discovery.StatusActive {
		t.Fatalf("heartbeat without ttl: %+v", beat)
	}
	reg := registration(company)
	reg.HealthCheckConfig = &discovery.HealthCheckSettings{TTL: "30s"}
	withTTL := must(c.Register(ctx, reg))(t)
	beat = must(c.Heartbeat(ctx, withTTL.ServiceID))(t)
	if beat.ExpiresAt == nil {
		t.Fatal("no expiresAt with a ttl")
	}
	if left := time.Until(*beat.ExpiresAt); left < 20*time.Second || left > 31*time.Second {
		t.Fatalf("expiresAt %v ahead, want about 30s", left)
	}
	if s := must(c.SetStatus(ctx, plain.ServiceID, discovery.StatusMaintenance))(t); s.Status != discovery.StatusMaintenance {
		t.Fatalf("status %q", s.Status)
	}
	rt := 12.5
	hs := must(c.ReportHealth(ctx, withTTL.ServiceID, discovery.HealthReport{OK: false, ResponseTime: &rt, Message: "slow"}))(t)
	if hs.ConsecutiveFailures != 1 || hs.LastError == nil || *hs.LastError != "slow" {
		t.Fatalf("health status %+v", hs)
	}
	detail := must(c.Health(ctx, withTTL.ServiceID))(t)
	if len(detail.RecentChecks) == 0 || detail.RecentChecks[0].OK || detail.RecentChecks[0].Endpoint != "external" {
		t.Fatalf("detail %+v", detail)
	}
}

func TestDeregister(t *testing.T) {
	ctx := context.Background()
	c := admin()
	rec := must(c.Register(ctx, registration(uniq("del"))))(t)
	if err := c.Deregister(ctx, rec.ServiceID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, rec.ServiceID); !errors.Is(err, discovery.ErrNotFound) {
		t.Fatalf("get after deregister: %v", err)
	}
	if err := c.Deregister(ctx, rec.ServiceID); !errors.Is(err, discovery.ErrNotFound) {
		t.Fatalf("second deregister: %v", err)
	}
}

func TestDiscoverFiltersAndPager(t *testing.T) {
	ctx := context.Background()
	c := admin()
	company := uniq("flt")
	a := registration(company)
	a.Tags = []string{"gpu", "beta"}
	ra := must(c.Register(ctx, a))(t)
	b := registration(company)
	b.ServiceInfo.Capabilities = []string{"tools", "search"}
	b.ServiceInfo.Region = "eu-west1"
	rb := must(c.Register(ctx, b))(t)
	ids := func(f discovery.Filter) []string {
		f.Company = company
		page := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: f}))(t)
		out := []string{}
		for _, s := range page.Services {
			out = append(out, s.ServiceID)
		}
		return out
	}
	both := []string{ra.ServiceID, rb.ServiceID}
	sort.Strings(both)
	cases := []struct {
		filter discovery.Filter
		want   []string
	}{
		{discovery.Filter{}, both},
		{discovery.Filter{Region: "eu-west1"}, []string{rb.ServiceID}},
		{discovery.Filter{Capabilities: []string{"tools", "search"}}, []string{rb.ServiceID}},
		{discovery.Filter{Tags: []string{"gpu", "beta"}}, []string{ra.ServiceID}},
		{discovery.Filter{Tags: []string{"gpu", "nope"}}, []string{}},
		{discovery.Filter{Tools: []string{"search"}}, []string{}},
	}
	for _, tc := range cases {
		if got := ids(tc.filter); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.filter, got, tc.want)
		}
	}

	var made []string
	for i := 0; i < 23; i++ {
		made = append(made, must(c.Register(ctx, registration(company)))(t).ServiceID)
	}
	made = append(made, both...)
	sort.Strings(made)
	p := c.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 10})
	var seen []string
	for p.Next(ctx) {
		seen = append(seen, p.Service().ServiceID)
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, made) {
		t.Fatalf("pager saw %d records, want each of %d once in order", len(seen), len(made))
	}
	pages := c.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 10})
	var counts []int
	for {
		page, err := pages.NextPage(ctx)
		if errors.Is(err, discovery.ErrDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, page.Count)
	}
	if !reflect.DeepEqual(counts, []int{10, 10, 5}) {
		t.Fatalf("page counts %v", counts)
	}
}

func TestLongPoll(t *testing.T) {
	ctx := context.Background()
	c := admin()
	company := uniq("lp")
	first := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}))(t)
	done := make(chan *discovery.DiscoverPage, 1)
	go func() {
		page, err := c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Index: first.Index, Wait: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- page
	}()
	time.Sleep(100 * time.Millisecond)
	rec := must(c.Register(ctx, registration(company)))(t)
	select {
	case page := <-done:
		if page == nil || page.Index <= first.Index || len(page.Services) != 1 || page.Services[0].ServiceID != rec.ServiceID {
			t.Fatalf("long-poll answer %+v", page)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long-poll did not return on the change")
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := admin()
	company := uniq("bad")
	reg := registration(company)
	reg.ServiceInfo.Region = "US West"
	_, err := c.Register(ctx, reg)
	var e *discovery.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != discovery.CodeInvalidArgument || e.Field != "serviceInfo.region" || e.RequestID == "" {
		t.Fatalf("invalid registration: %#v", err)
	}
	if !errors.Is(err, discovery.ErrInvalidArgument) || errors.Is(err, discovery.ErrNotFound) {
		t.Fatal("errors.Is must compare codes")
	}
	if page := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}))(t); page.Count != 0 {
		t.Fatal("a rejected request changed something")
	}

	if _, err := discovery.New(daemon.URL).Discover(ctx, discovery.DiscoverQuery{}); !errors.Is(err, discovery.ErrUnauthenticated) {
		t.Fatalf("no token: %v", err)
	}
	forged := discovery.New(daemon.URL, discovery.WithToken(daemon.Token(discoverytest.Claims{Sao: "diamond"})+"x"))
	if _, err := forged.Discover(ctx, discovery.DiscoverQuery{}); !errors.Is(err, discovery.ErrUnauthenticated) {
		t.Fatalf("bad signature: %v", err)
	}

	rec := must(c.Register(ctx, registration(company)))(t)
	onyx := clientFor(daemon, discoverytest.Claims{Sao: "onyx", Company: company})
	must(onyx.Get(ctx, rec.ServiceID))(t)
	if _, err := onyx.Patch(ctx, rec.ServiceID, discovery.MergePatch{"tags": []string{}}); !errors.As(err, &e) || e.Status != 403 || e.Code != discovery.CodePermissionDenied {
		t.Fatalf("onyx patch: %v", err)
	}
	if _, err := onyx.Health(ctx, rec.ServiceID); !errors.Is(err, discovery.ErrPermissionDenied) {
		t.Fatalf("onyx health: %v", err)
	}
	stranger := clientFor(daemon, discoverytest.Claims{Sao: "sapphire", Company: uniq("other")})
	if _, err := stranger.Get(ctx, rec.ServiceID); !errors.Is(err, discovery.ErrNotFound) {
		t.Fatalf("other company: %v", err)
	}
	emerald := clientFor(daemon, discoverytest.Claims{Sao: "emerald"})
	if _, err := emerald.Audit(ctx, discovery.AuditQuery{}); !errors.Is(err, discovery.ErrPermissionDenied) {
		t.Fatalf("emerald audit: %v", err)
	}
}

func TestTransportErrorsAndTimeouts(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	refused := discovery.New("http://"+addr, discovery.WithRetries(0, 0))
	err = refused.DaemonHealth(ctx)
	var ue *url.Error
	var de *discovery.Error
	if !errors.As(err, &ue) || errors.As(err, &de) {
		t.Fatalf("refused connection: %#v", err)
	}

	c := clientFor(daemon, discoverytest.Claims{Sao: "diamond"}, discovery.WithTimeout(200*time.Millisecond), discovery.WithRetries(0, 0))
	first := must(c.Discover(ctx, discovery.DiscoverQuery{Limit: 1}))(t)
	// The per-attempt timeout covers a long-poll's wait plus the timeout.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Discover(short, discovery.DiscoverQuery{Index: first.Index, Wait: 10 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("caller's deadline: %v after %v", err, time.Since(start))
	}
}

func TestRateLimitedCallsAreRetried(t *testing.T) {
	ctx := context.Background()
	limited, err := discoverytest.Start(binary(), "--rate-limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Stop()
	token := discovery.WithToken(limited.Token(discoverytest.Claims{Sao: "diamond", Subject: "limited"}))
	once := discovery.New(limited.URL, token, discovery.WithRetries(0, 0))
	var e *discovery.Error
	for i := 0; i < 10; i++ {
		if _, err := once.Discover(ctx, discovery.DiscoverQuery{}); errors.As(err, &e) {
			break
		}
	}
	if e == nil || e.Code != discovery.CodeRateLimited || e.RetryAfter < time.Second {
		t.Fatalf("expected a 429 with Retry-After, got %#v", e)
	}
	patient := discovery.New(limited.URL, token, discovery.WithRetries(3, 50*time.Millisecond))
	if _, err := patient.Discover(ctx, discovery.DiscoverQuery{}); err != nil {
		t.Fatalf("retried discover: %v", err)
	}
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	c := admin()
	company := uniq("watch")
	first := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 1}))(t)
	w, err := c.Watch(ctx, discovery.Filter{Company: company}, &discovery.WatchOptions{LastEventID: itoa(first.Index)})
	if err != nil {
		t.Fatal(err)
	}
	rec := must(c.Register(ctx, registration(company)))(t)
	must(c.SetStatus(ctx, rec.ServiceID, discovery.StatusMaintenance))(t)
	if err := c.Deregister(ctx, rec.ServiceID); err != nil {
		t.Fatal(err)
	}
	var got []*discovery.ChangeEvent
	for i := 0; i < 3; i++ {
		ev, err := nextWithin(t, w, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	types := []discovery.EventType{got[0].Type, got[1].Type, got[2].Type}
	if !reflect.DeepEqual(types, []discovery.EventType{discovery.EventUpsert, discovery.EventStatus, discovery.EventDelete}) {
		t.Fatalf("event types %v", types)
	}
	if !reflect.DeepEqual(got[0].Service, *rec) {
		t.Fatalf("upsert carries %+v, want %+v", got[0].Service, *rec)
	}
	if w.LastEventID() != itoa(got[2].Index) {
		t.Fatalf("LastEventID %q after index %d", w.LastEventID(), got[2].Index)
	}
	w.Close()
	if _, err := w.Next(); !errors.Is(err, discovery.ErrWatchClosed) {
		t.Fatalf("Next after Close: %v", err)
	}

	// Resuming from the first event replays the two after it.
	resumed, err := c.Watch(ctx, discovery.Filter{Company: company}, &discovery.WatchOptions{LastEventID: itoa(got[0].Index)})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	for _, want := range got[1:] {
		ev, err := nextWithin(t, resumed, 10*time.Second)
		if err != nil || ev.Index != want.Index {
			t.Fatalf("replay: %v %v, want index %d", ev, err, want.Index)
		}
	}
}

func TestWatchEndsWithContextAndRefusesBadToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := admin().Watch(ctx, discovery.Filter{Company: uniq("quiet")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := w.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
	if _, err := discovery.New(daemon.URL).Watch(context.Background(), discovery.Filter{}, nil); !errors.Is(err, discovery.ErrUnauthenticated) {
		t.Fatalf("watch without token: %v", err)
	}
}

func TestAlerts(t *testing.T) {
	ctx := context.Background()
	company := uniq("alerts")
	rec := must(admin().Register(ctx, registration(company)))(t)
	alerts := must(clientFor(daemon, discoverytest.Claims{Sao: "opal", Company: company}).Alerts(ctx,
		discovery.AlertQuery{ServiceID: rec.ServiceID, Limit: 10}))(t)
	for _, a := range alerts {
		if a.ServiceID == nil || *a.ServiceID != rec.ServiceID {
			t.Fatalf("alert of another service: %+v", a)
		}
	}
	if _, err := clientFor(daemon, discoverytest.Claims{Sao: "onyx", Company: company}).Alerts(ctx, discovery.AlertQuery{}); !errors.Is(err, discovery.ErrPermissionDenied) {
		t.Fatalf("onyx: %v", err)
	}
	if _, err := admin().Alerts(ctx, discovery.AlertQuery{ServiceID: "00000000-0000-4000-8000-000000000000"}); !errors.Is(err, discovery.ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestDaemonEndpoints(t *testing.T) {
	ctx := context.Background()
	anonymous := discovery.New(daemon.URL)
	if err := anonymous.DaemonHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if r := must(anonymous.DaemonReady(ctx))(t); r.Status != "ready" {
		t.Fatalf("ready: %+v", r)
	}
	if m := must(anonymous.Metrics(ctx))(t); !strings.Contains(m, "# TYPE ") {
		t.Fatalf("metrics: %.200s", m)
	}
	if doc := must(anonymous.OpenAPI(ctx))(t); !strings.Contains(string(doc), `"openapi": "3.1.0"`) && !strings.Contains(string(doc), `"openapi":"3.1.0"`) {
		t.Fatalf("openapi: %.200s", doc)
	}

	c := admin()
	rec := must(c.Register(ctx, registration(uniq("audit"))))(t)
	entries := must(c.Audit(ctx, discovery.AuditQuery{Since: time.Now().Add(-time.Minute), Limit: 1000}))(t)
	n := 0
	for _, e := range entries {
		if e.ServiceID == rec.ServiceID {
			n++
			if e.Action != "register" || e.Result != "ok" || e.Subject != "admin" || e.RequestID == "" {
				t.Fatalf("audit entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d audit entries for the registration", n)
	}
}

func itoa(i uint64) string { return strconv.FormatUint(i, 10) }

// nextWithin is w.Next with a deadline, so a missing event fails the test
// instead of hanging it.
func nextWithin(t *testing.T, w *discovery.Watcher, d time.Duration) (*discovery.ChangeEvent, error) {
	t.Helper()
	type result struct {
		ev  *discovery.ChangeEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := w.Next()
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(d):
		w.Close()
		t.Fatalf("no watch event within %v", d)
		return nil, nil
	}
}

func TestWatchReconnectsAfterARestart(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	opts := discoverytest.Options{Binary: binary(), DataDir: dir,
		Args: []string{"--storage", "sqlite", "--listen", "127.0.0.1:" + strconv.Itoa(port)}}
	first, err := discoverytest.StartWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()
	c := discovery.New(first.URL, discovery.WithToken(first.Token(discoverytest.Claims{Sao: "diamond"})),
		discovery.WithRetries(5, 200*time.Millisecond))
	company := uniq("restart")
	before := must(c.Register(ctx, registration(company)))(t)
	page := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}))(t)
	w, err := c.Watch(ctx, discovery.Filter{Company: company}, &discovery.WatchOptions{
		LastEventID: itoa(page.Index), ReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	second, err := discoverytest.StartWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	after := must(c.Register(ctx, registration(company)))(t)
	for {
		ev, err := nextWithin(t, w, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if id := ev.Service.ServiceID; id != before.ServiceID && id != after.ServiceID {
			t.Fatalf("event for %s, outside the filter", id)
		}
		if ev.Service.ServiceID == after.ServiceID {
			if w.LastEventID() != itoa(ev.Index) {
				t.Fatalf("LastEventID %q after index %d", w.LastEventID(), ev.Index)
			}
			return
		}
	}
}

func TestWatchOutlivesTheRequestTimeout(t *testing.T) {
	ctx := context.Background()
	company := uniq("long")
	c := clientFor(daemon, discoverytest.Claims{Sao: "diamond"}, discovery.WithTimeout(300*time.Millisecond))
	page := must(c.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}))(t)
	w, err := c.Watch(ctx, discovery.Filter{Company: company}, &discovery.WatchOptions{LastEventID: itoa(page.Index), NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	time.Sleep(time.Second) // beyond the 300ms timeout
	rec := must(admin().Register(ctx, registration(company)))(t)
	ev, err := nextWithin(t, w, 10*time.Second)
	if err != nil || ev.Service.ServiceID != rec.ServiceID {
		t.Fatalf("event %+v, err %v", ev, err)
	}
}
