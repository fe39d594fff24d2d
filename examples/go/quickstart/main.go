// Quickstart: register an MCP server with discoveryd, find it, keep it
// alive, watch a change, and deregister it.
//
//	DISCOVERY_URL=http://127.0.0.1:8080 DISCOVERY_TOKEN=<sapphire token of acme> go run ./quickstart
//
// A token: `discoveryctl token --sao sapphire --company acme --data-dir ./data`.
// The token comes from the environment, never from the command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/mcp-discovery/mcp-discovery/bindings/go/discovery"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	company := env("DISCOVERY_COMPANY", "acme")
	client := discovery.New(env("DISCOVERY_URL", "http://127.0.0.1:8080"), discovery.WithToken(os.Getenv("DISCOVERY_TOKEN")))

	// 1. Register (again with the same InstanceID is an update, so it is safe to retry).
	service, err := client.Register(ctx, &discovery.Registration{
		CompanyName: company,
		InstanceID:  company + "-quickstart-go",
		ServiceInfo: discovery.ServiceInfo{
			Version:      "1.0.0",
			Capabilities: []string{"tools", "search"},
			Region:       "us-west1",
			Environment:  "production",
			Endpoints: discovery.Endpoints{
				Primary: "https://mcp." + company + ".example.com",
				MCP:     "https://mcp." + company + ".example.com/mcp",
			},
		},
		HealthCheckConfig: &discovery.HealthCheckSettings{TTL: "30s"}, // heartbeat within 30s or become inactive
		Tags:              []string{"quickstart"},
	})
	if err != nil {
		var e *discovery.Error
		if errors.As(err, &e) && e.Field != "" {
			log.Fatalf("register: %s is wrong: %s", e.Field, e.Message)
		}
		log.Fatalf("register: %v", err)
	}
	fmt.Printf("registered %s (%s)\n", service.ServiceID, service.Status)

	// 2. Discover: every page, each record once.
	pager := client.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{
		Company: company, Capabilities: []string{"search"}, Status: discovery.StatusActive,
	}})
	for pager.Next(ctx) {
		s := pager.Service()
		fmt.Printf("found %s at %s\n", s.InstanceID, s.ServiceInfo.Endpoints.Primary)
	}
	if err := pager.Err(); err != nil {
		log.Fatalf("discover: %v", err)
	}

	// 3. Heartbeat.
	beat, err := client.Heartbeat(ctx, service.ServiceID)
	if err != nil {
		log.Fatalf("heartbeat: %v", err)
	}
	fmt.Printf("heartbeat: %s until %s\n", beat.Status, beat.ExpiresAt.Format(time.RFC3339))

	// 4. Watch from the current index, make a change, see it.
	page, err := client.Discover(ctx, discovery.DiscoverQuery{Filter: discovery.Filter{Company: company}, Limit: 1})
	if err != nil {
		log.Fatalf("discover: %v", err)
	}
	watcher, err := client.Watch(ctx, discovery.Filter{Company: company},
		&discovery.WatchOptions{LastEventID: strconv.FormatUint(page.Index, 10)})
	if err != nil {
		log.Fatalf("watch: %v", err)
	}
	if _, err := client.Patch(ctx, service.ServiceID, discovery.MergePatch{"tags": []string{"quickstart", "watched"}}); err != nil {
		log.Fatalf("patch: %v", err)
	}
	event, err := watcher.Next()
	if err != nil {
		log.Fatalf("watch: %v", err)
	}
	fmt.Printf("watch: %s of %s, tags %v (index %d)\n", event.Type, event.Service.InstanceID, event.Service.Tags, event.Index)
	watcher.Close()

	// 5. Deregister; the record is gone.
	if err := client.Deregister(ctx, service.ServiceID); err != nil {
		log.Fatalf("deregister: %v", err)
	}
	if _, err := client.Get(ctx, service.ServiceID); errors.Is(err, discovery.ErrNotFound) {
		fmt.Printf("deregistered %s\n", service.ServiceID)
	} else {
		log.Fatalf("get after deregister: %v", err)
	}
}
