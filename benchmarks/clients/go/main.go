// 1,000 sequential discovers from the Go client over one keep-alive
// connection. Needs DISCOVERY_URL and DISCOVERY_JWT_SECRET_FILE (run.sh sets
// them). Prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/mcp-discovery/mcp-discovery/bindings/go/discovery"
	"github.com/mcp-discovery/mcp-discovery/bindings/go/discoverytest"
)

func main() {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("BENCH_REQUESTS")); err == nil && v > 0 {
		n = v
	}
	secret, err := discoverytest.ReadSecretFile(os.Getenv("DISCOVERY_JWT_SECRET_FILE"))
	if err != nil {
		log.Fatal(err)
	}
	token := discoverytest.MintToken(secret, discoverytest.Claims{Sao: "diamond", Subject: "bench"})
	client := discovery.New(os.Getenv("DISCOVERY_URL"), discovery.WithToken(token), discovery.WithRetries(0, 0))
	ctx := context.Background()
	query := discovery.DiscoverQuery{Filter: discovery.Filter{Company: "bench", Region: "us-west1"}, Limit: 10}

	for i := 0; i < 100; i++ {
		if _, err := client.Discover(ctx, query); err != nil {
			log.Fatal(err)
		}
	}
	latencies := make([]float64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		page, err := client.Discover(ctx, query)
		latencies[i] = float64(time.Since(t0).Microseconds()) / 1000
		if err != nil {
			log.Fatal(err)
		}
		if page.Count != 10 {
			log.Fatalf("expected 10 records, got %d", page.Count)
		}
	}
	total := float64(time.Since(start).Microseconds()) / 1000
	sort.Float64s(latencies)
	pct := func(p float64) float64 { return latencies[int(p/100*float64(n-1))] }
	out, _ := json.Marshal(map[string]any{
		"client": "go", "go": runtime.Version(), "requests": n, "totalMs": total,
		"meanMs": total / float64(n), "p50Ms": pct(50), "p99Ms": pct(99), "maxMs": latencies[n-1],
	})
	fmt.Println(string(out))
}
