package discovery_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/mcp-discovery/mcp-discovery/bindings/go/discovery"
	"github.com/mcp-discovery/mcp-discovery/bindings/go/discoverytest"
)

// daemon is this package's own discoveryd (the unit tests); the conformance
// test may use the runner's instead (see conformance_test.go).
var daemon *discoverytest.Daemon

// binary is $DISCOVERYD, else the dev build of this repository.
func binary() string {
	if b := os.Getenv("DISCOVERYD"); b != "" {
		return b
	}
	return "../../../build/dev/apps/discoveryd/discoveryd"
}

func TestMain(m *testing.M) {
	var err error
	daemon, err = discoverytest.Start(binary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting discoveryd:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := daemon.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping discoveryd:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func clientFor(d *discoverytest.Daemon, c discoverytest.Claims, options ...discovery.Option) *discovery.Client {
	return discovery.New(d.URL, append([]discovery.Option{discovery.WithToken(d.Token(c))}, options...)...)
}

func uniq(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func registration(company string) *discovery.Registration {
	return &discovery.Registration{
		CompanyName: company,
		InstanceID:  uniq(company),
		ServiceInfo: discovery.ServiceInfo{
			Version:      "1.0.0",
			Capabilities: []string{"tools"},
			Region:       "us-west1",
			Environment:  "production",
			Endpoints:    discovery.Endpoints{Primary: "https://mcp." + company + ".example.com"},
		},
	}
}
