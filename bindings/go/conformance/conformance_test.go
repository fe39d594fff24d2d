// Package conformance_test is the conformance scenario of
// tests/conformance/README.md, shared by the Node, Go and Python clients.
// With DISCOVERY_URL and DISCOVERY_JWT_SECRET_FILE it runs against that
// daemon (tests/conformance/run.sh starts one for all three), else against
// one of its own ($DISCOVERYD, default the dev build). Everything it does is
// in its own company, so the clients do not meet.
package conformance_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcp-discovery/mcp-discovery/bindings/go/discovery"
	"github.com/mcp-discovery/mcp-discovery/bindings/go/discoverytest"
)

const company = "conformance-go"

func binary() string {
	if b := os.Getenv("DISCOVERYD"); b != "" {
		return b
	}
	return "../../../build/dev/apps/discoveryd/discoveryd"
}

// TestConformance runs the scenario's steps in order; each step is a subtest
// and a failed step stops the rest.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	d, err := discoverytest.FromEnv(binary())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
	}()
	client := func(c discoverytest.Claims) *discovery.Client {
		return discovery.New(d.URL, discovery.WithToken(d.Token(c)))
	}
	owner := client(discoverytest.Claims{Sao: "sapphire", Company: company, Subject: "conformance-go-owner"})
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // instance ids unique per run
	body := func(name string, edit func(*discovery.Registration)) *discovery.Registration {
		r := &discovery.Registration{
			CompanyName: company,
			InstanceID:  company + "-" + run + "-" + name,
			ServiceInfo: discovery.ServiceInfo{
				Version: "1.0.0", Capabilities: []string{"tools"}, Region: "us-west1", Environment: "production",
				Endpoints: discovery.Endpoints{Primary: "https://" + name + "." + company + ".example.com"},
			},
		}
		if edit != nil {
			edit(r)
		}
		return r
	}
	ids := func(f discovery.Filter) []string {
		t.Helper()
		f.Company = company
		page, err := owner.Discover(ctx, discovery.DiscoverQuery{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, s := range page.Services {
			out = append(out, s.ServiceID)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(ids ...string) []string { sort.Strings(ids); return ids }

	// A daemon reused across runs may hold this company's records: start clean.
	for p := owner.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}); p.Next(ctx); {
		if err := owner.Deregister(ctx, p.Service().ServiceID); err != nil {
			t.Fatal(err)
		}
	}

	var alpha, beta, gamma *discovery.Service
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"1 register", func(t *testing.T) {
			var err error
			if alpha, err = owner.Register(ctx, body("alpha", func(r *discovery.Registration) {
				r.ServiceInfo.Capabilities = []string{"tools", "search"}
				r.Tags = []string{"gpu", "beta"}
			})); err != nil {
				t.Fatal(err)
			}
			if beta, err = owner.Register(ctx, body("beta", func(r *discovery.Registration) {
				r.ServiceInfo.Region, r.ServiceInfo.Environment = "eu-west1", "staging"
			})); err != nil {
				t.Fatal(err)
			}
			if gamma, err = owner.Register(ctx, body("gamma", func(r *discovery.Registration) {
				r.ServiceInfo.Region, r.SaoLevel, r.Tags = "eu-west1", discovery.Opal, []string{"gpu"}
			})); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*discovery.Service{alpha, beta, gamma} {
				if s.CompanyName != company || s.Status != discovery.StatusActive {
					t.Fatalf("registered %+v", s)
				}
			}
			if alpha.SaoLevel != discovery.Sapphire || gamma.SaoLevel != discovery.Opal {
				t.Fatalf("saoLevel %q %q", alpha.SaoLevel, gamma.SaoLevel)
			}
			again, err := owner.Register(ctx, body("alpha", func(r *discovery.Registration) {
				r.ServiceInfo.Capabilities = []string{"tools", "search"}
				r.Tags = []string{"gpu", "beta"}
			}))
			if err != nil || again.ServiceID != alpha.ServiceID {
				t.Fatalf("re-registration: %v %v", again, err)
			}
		}},
		{"2 discover with each filter", func(t *testing.T) {
			if _, err := owner.SetStatus(ctx, beta.ServiceID, discovery.StatusMaintenance); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				filter discovery.Filter
				want   []string
			}{
				{discovery.Filter{}, sorted(alpha.ServiceID, beta.ServiceID, gamma.ServiceID)},
				{discovery.Filter{Region: "eu-west1"}, sorted(beta.ServiceID, gamma.ServiceID)},
				{discovery.Filter{Environment: "staging"}, []string{beta.ServiceID}},
				{discovery.Filter{Status: discovery.StatusMaintenance}, []string{beta.ServiceID}},
				{discovery.Filter{Status: discovery.StatusActive}, sorted(alpha.ServiceID, gamma.ServiceID)},
				{discovery.Filter{SaoLevel: discovery.Opal}, []string{gamma.ServiceID}},
				{discovery.Filter{Capabilities: []string{"tools", "search"}}, []string{alpha.ServiceID}},
				{discovery.Filter{Tags: []string{"gpu"}}, sorted(alpha.ServiceID, gamma.ServiceID)},
				{discovery.Filter{Tags: []string{"gpu", "beta"}}, []string{alpha.ServiceID}},
				{discovery.Filter{Region: "eu-west1", Tags: []string{"gpu"}}, []string{gamma.ServiceID}},
				// No MCP introspection ran, so no record has tools.
				{discovery.Filter{Tools: []string{"search"}}, []string{}},
			}
			for _, tc := range cases {
				if got := ids(tc.filter); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%+v: got %v, want %v", tc.filter, got, tc.want)
				}
			}
			page, err := owner.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company, Tools: []string{"search"}}})
			if err != nil || page.Count != 0 || len(page.Services) != 0 || page.NextCursor != nil {
				t.Fatalf("tools answer %+v %v", page, err)
			}
			if _, err := owner.SetStatus(ctx, beta.ServiceID, discovery.StatusActive); err != nil {
				t.Fatal(err)
			}
		}},
		{"3 page through 250 records with limit 100", func(t *testing.T) {
			made := map[string]bool{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			errs := make(chan error, 250)
			for i := 0; i < 250; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					s, err := owner.Register(ctx, body("bulk-"+strconv.Itoa(i), func(r *discovery.Registration) { r.ServiceInfo.Environment = "bulk" }))
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					made[s.ServiceID] = true
					mu.Unlock()
				}(i)
				if i%25 == 24 {
					wg.Wait()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(made) != 250 {
				t.Fatalf("%d distinct records", len(made))
			}
			p := owner.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: company, Environment: "bulk"}, Limit: 100})
			var counts []int
			var seen []string
			for {
				page, err := p.NextPage(ctx)
				if errors.Is(err, discovery.ErrDone) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				counts = append(counts, page.Count)
				for _, s := range page.Services {
					seen = append(seen, s.ServiceID)
				}
			}
			if !reflect.DeepEqual(counts, []int{100, 100, 50}) {
				t.Fatalf("page counts %v", counts)
			}
			if !sort.StringsAreSorted(seen) {
				t.Fatal("not ordered by serviceId")
			}
			once := map[string]bool{}
			for _, id := range seen {
				if once[id] || !made[id] {
					t.Fatalf("%s seen twice or not registered here", id)
				}
				once[id] = true
			}
			if len(once) != 250 {
				t.Fatalf("saw %d of 250", len(once))
			}
		}},
		{"4 patch", func(t *testing.T) {
			patched, err := owner.Patch(ctx, alpha.ServiceID, discovery.MergePatch{
				"tags": []string{"gpu"}, "metadata": map[string]any{"owner": "team-a"}, "serviceInfo": map[string]any{"version": "1.1.0"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(patched.Tags, []string{"gpu"}) || patched.Metadata["owner"] != "team-a" ||
				patched.ServiceInfo.Version != "1.1.0" || !reflect.DeepEqual(patched.ServiceInfo.Capabilities, []string{"tools", "search"}) {
				t.Fatalf("patched %+v", patched)
			}
			removed, err := owner.Patch(ctx, alpha.ServiceID, discovery.MergePatch{"metadata": map[string]any{"owner": nil}})
			if err != nil || len(removed.Metadata) != 0 {
				t.Fatalf("null removes: %+v %v", removed, err)
			}
		}},
		{"5 status", func(t *testing.T) {
			s, err := owner.SetStatus(ctx, alpha.ServiceID, discovery.StatusMaintenance)
			if err != nil || s.Status != discovery.StatusMaintenance {
				t.Fatalf("%v %v", s, err)
			}
			if got, err := owner.Get(ctx, alpha.ServiceID); err != nil || got.Status != discovery.StatusMaintenance {
				t.Fatalf("%v %v", got, err)
			}
			if s, err := owner.SetStatus(ctx, alpha.ServiceID, discovery.StatusActive); err != nil || s.Status != discovery.StatusActive {
				t.Fatalf("%v %v", s, err)
			}
		}},
		{"6 heartbeat with a ttl", func(t *testing.T) {
			withTTL, err := owner.Patch(ctx, beta.ServiceID, discovery.MergePatch{"healthCheckConfig": map[string]any{"ttl": "45s"}})
			if err != nil || withTTL.HealthCheckConfig.TTL == nil || *withTTL.HealthCheckConfig.TTL != "45s" {
				t.Fatalf("%+v %v", withTTL, err)
			}
			beat, err := owner.Heartbeat(ctx, beta.ServiceID)
			if err != nil || beat.ServiceID != beta.ServiceID || beat.Status != discovery.StatusActive || beat.ExpiresAt == nil {
				t.Fatalf("%+v %v", beat, err)
			}
			if left := time.Until(*beat.ExpiresAt); left < 30*time.Second || left > 46*time.Second {
				t.Fatalf("expiresAt %v ahead, want about 45s", left)
			}
			if beat, err := owner.Heartbeat(ctx, alpha.ServiceID); err != nil || beat.ExpiresAt != nil {
				t.Fatalf("without ttl: %+v %v", beat, err)
			}
		}},
		{"7 health report", func(t *testing.T) {
			rt := 40.0
			failed, err := owner.ReportHealth(ctx, gamma.ServiceID, discovery.HealthReport{OK: false, ResponseTime: &rt, Message: "timeout"})
			if err != nil || failed.ConsecutiveFailures != 1 || failed.LastError == nil || *failed.LastError != "timeout" {
				t.Fatalf("%+v %v", failed, err)
			}
			passed, err := owner.ReportHealth(ctx, gamma.ServiceID, discovery.HealthReport{OK: true})
			if err != nil || passed.ConsecutiveSuccesses != 1 || passed.ConsecutiveFailures != 0 {
				t.Fatalf("%+v %v", passed, err)
			}
			detail, err := owner.Health(ctx, gamma.ServiceID)
			if err != nil || detail.Status != discovery.StatusActive || len(detail.RecentChecks) < 2 ||
				!detail.RecentChecks[0].OK || detail.RecentChecks[1].OK {
				t.Fatalf("detail %+v %v", detail, err)
			}
		}},
		{"8 watch a change", func(t *testing.T) {
			first, err := owner.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			w, err := owner.Watch(wctx, discovery.Filter{Company: company}, &discovery.WatchOptions{LastEventID: strconv.FormatUint(first.Index, 10)})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := owner.SetStatus(ctx, gamma.ServiceID, discovery.StatusMaintenance); err != nil {
				t.Fatal(err)
			}
			ev, err := w.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != discovery.EventStatus || ev.Service.ServiceID != gamma.ServiceID ||
				ev.Service.Status != discovery.StatusMaintenance || ev.Index <= first.Index {
				t.Fatalf("event %+v", ev)
			}
			if w.LastEventID() != strconv.FormatUint(ev.Index, 10) {
				t.Fatalf("LastEventID %q", w.LastEventID())
			}
		}},
		{"9 access denied for a lower level, another company's record not found", func(t *testing.T) {
			onyx := client(discoverytest.Claims{Sao: "onyx", Company: company})
			if got, err := onyx.Get(ctx, alpha.ServiceID); err != nil || got.ServiceID != alpha.ServiceID {
				t.Fatalf("onyx reads its own company: %v", err)
			}
			var e *discovery.Error
			if _, err := onyx.Patch(ctx, alpha.ServiceID, discovery.MergePatch{"tags": []string{}}); !errors.As(err, &e) ||
				e.Status != 403 || e.Code != discovery.CodePermissionDenied {
				t.Fatalf("onyx patch: %v", err)
			}
			other := client(discoverytest.Claims{Sao: "sapphire", Company: company + "-other"})
			if _, err := other.Get(ctx, alpha.ServiceID); !errors.As(err, &e) || e.Status != 404 || e.Code != discovery.CodeNotFound {
				t.Fatalf("other company get: %v", err)
			}
			if _, err := other.Patch(ctx, alpha.ServiceID, discovery.MergePatch{"tags": []string{}}); !errors.Is(err, discovery.ErrNotFound) {
				t.Fatalf("other company patch: %v", err)
			}
			if page, err := other.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}); err != nil || page.Count != 0 {
				t.Fatalf("other company discover: %+v %v", page, err)
			}
		}},
		{"10 deregister", func(t *testing.T) {
			if err := owner.Deregister(ctx, alpha.ServiceID); err != nil {
				t.Fatal(err)
			}
			if _, err := owner.Get(ctx, alpha.ServiceID); !errors.Is(err, discovery.ErrNotFound) {
				t.Fatalf("get after deregister: %v", err)
			}
			var rest []string
			p := owner.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 1000})
			for p.Next(ctx) {
				if p.Service().ServiceID == alpha.ServiceID {
					t.Fatal("deregistered record still discovered")
				}
				rest = append(rest, p.Service().ServiceID)
			}
			if err := p.Err(); err != nil {
				t.Fatal(err)
			}
			for _, id := range rest {
				if err := owner.Deregister(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if page, err := owner.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}}); err != nil || page.Count != 0 {
				t.Fatalf("left over: %+v %v", page, err)
			}
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			t.FailNow()
		}
	}
}
