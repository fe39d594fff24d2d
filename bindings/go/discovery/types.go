package discovery

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Status is a service's status.
type Status string

// The four statuses of API.md. A new registration is active; the health
// checker moves it between active and unhealthy; a missed heartbeat TTL makes
// it inactive; maintenance and inactive may also be set by an operator.
const (
	StatusActive      Status = "active"
	StatusInactive    Status = "inactive"
	StatusMaintenance Status = "maintenance"
	StatusUnhealthy   Status = "unhealthy"
)

// SaoLevel is an access tier, from diamond (everything) down to onyx.
type SaoLevel string

const (
	Diamond  SaoLevel = "diamond"
	Emerald  SaoLevel = "emerald"
	Sapphire SaoLevel = "sapphire"
	Opal     SaoLevel = "opal"
	Onyx     SaoLevel = "onyx"
)

// Endpoints of an MCP server. Primary is required on registration.
type Endpoints struct {
	Primary string `json:"primary"`
	Health  string `json:"health,omitempty"`
	Metrics string `json:"metrics,omitempty"`
	MCP     string `json:"mcp,omitempty"`
}

// ServiceInfo describes what a service is and where it runs.
type ServiceInfo struct {
	Version      string    `json:"version,omitempty"`
	Capabilities []string  `json:"capabilities,omitempty"`
	Region       string    `json:"region,omitempty"`
	Environment  string    `json:"environment,omitempty"`
	Endpoints    Endpoints `json:"endpoints"`
}

// HealthStatus is the outcome of the checks so far; nil pointers are the
// JSON nulls of a service not yet checked.
type HealthStatus struct {
	LastCheck            *time.Time `json:"lastCheck"`
	ResponseTime         *float64   `json:"responseTime"` // milliseconds
	Uptime               *float64   `json:"uptime"`       // percent over the daemon's window
	ConsecutiveFailures  int        `json:"consecutiveFailures"`
	ConsecutiveSuccesses int        `json:"consecutiveSuccesses"`
	LastFailure          *time.Time `json:"lastFailure"`
	LastError            *string    `json:"lastError"`
}

// MCPTool is one tool an MCP server reported in tools/list.
type MCPTool struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// MCPInfo is what the MCP server said in its handshake and tools/list;
// written by the health checker, read-only for clients.
type MCPInfo struct {
	ProtocolVersion string         `json:"protocolVersion"`
	Transport       string         `json:"transport"`
	ServerInfo      map[string]any `json:"serverInfo"`
	Capabilities    map[string]any `json:"capabilities"`
	Tools           []MCPTool      `json:"tools"`
	IntrospectedAt  time.Time      `json:"introspectedAt"`
}

// AlertingConfig says where alerts of a service go.
type AlertingConfig struct {
	Enabled          bool     `json:"enabled"`
	Channels         []string `json:"channels"`
	EscalationLevels []string `json:"escalationLevels"`
}

// ExpectedStatus is the HTTP status a passing probe answers: one status
// ("200", sent as the number 200) or an inclusive range ("200-299").
type ExpectedStatus string

// MarshalJSON writes a single status as a number, a range as a string.
func (e ExpectedStatus) MarshalJSON() ([]byte, error) {
	if n, err := strconv.Atoi(string(e)); err == nil {
		return json.Marshal(n)
	}
	return json.Marshal(string(e))
}

// UnmarshalJSON reads a number or a string.
func (e *ExpectedStatus) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*e = ExpectedStatus(strconv.Itoa(n))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expectedStatus: %w", err)
	}
	*e = ExpectedStatus(s)
	return nil
}

// HealthCheckConfig is the effective health-check configuration of a record,
// defaults filled in. Durations are strings such as "30s".
type HealthCheckConfig struct {
	Interval         string         `json:"interval"`
	Timeout          string         `json:"timeout"`
	Retries          int            `json:"retries"`
	FailureThreshold int            `json:"failureThreshold"`
	SuccessThreshold int            `json:"successThreshold"`
	Endpoints        []string       `json:"endpoints"`
	ExpectedStatus   ExpectedStatus `json:"expectedStatus"`
	MCP              bool           `json:"mcp"`
	TTL              *string        `json:"ttl"` // nil: no heartbeat TTL
	Alerting         AlertingConfig `json:"alerting"`
}

// Service is a registered MCP service instance, as the registry holds it.
type Service struct {
	ServiceID         string            `json:"serviceId"`
	CompanyName       string            `json:"companyName"`
	Domain            string            `json:"domain"`
	InstanceID        string            `json:"instanceId"`
	Status            Status            `json:"status"`
	HealthStatus      HealthStatus      `json:"healthStatus"`
	ServiceInfo       ServiceInfo       `json:"serviceInfo"`
	MCP               *MCPInfo          `json:"mcp"` // nil until introspected
	HealthCheckConfig HealthCheckConfig `json:"healthCheckConfig"`
	// Present only for readers allowed to manage the company's services.
	PersonalConfig map[string]any `json:"personalConfig,omitempty"`
	DemoConfig     map[string]any `json:"demoConfig,omitempty"`
	SaoLevel       SaoLevel       `json:"saoLevel"`
	RegisteredAt   time.Time      `json:"registeredAt"`
	LastUpdated    time.Time      `json:"lastUpdated"`
	Tags           []string       `json:"tags"`
	Metadata       map[string]any `json:"metadata"`
}

// HealthCheckSettings is the health-check part of a registration: zero
// values are left out, and the daemon fills in its defaults.
type HealthCheckSettings struct {
	Interval         string `json:"interval,omitempty"`
	Timeout          string `json:"timeout,omitempty"`
	Retries          *int   `json:"retries,omitempty"`
	FailureThreshold *int   `json:"failureThreshold,omitempty"`
	SuccessThreshold *int   `json:"successThreshold,omitempty"`
	// nil: the default (["/health"]); an empty, non-nil slice: no HTTP check
	// (the MCP check or the heartbeat TTL alone). nil is sent as null, which
	// the daemon reads as absent.
	Endpoints      []string        `json:"endpoints"`
	ExpectedStatus ExpectedStatus  `json:"expectedStatus,omitempty"`
	MCP            *bool           `json:"mcp,omitempty"`
	TTL            string          `json:"ttl,omitempty"`
	Alerting       *AlertingConfig `json:"alerting,omitempty"`
}

// Registration is the body of Register. CompanyName and
// ServiceInfo.Endpoints.Primary are required; InstanceID is generated when
// empty (and then a retry could register twice, so Register retries only
// registrations that name their instance).
type Registration struct {
	CompanyName       string               `json:"companyName"`
	InstanceID        string               `json:"instanceId,omitempty"`
	Domain            string               `json:"domain,omitempty"`
	ServiceInfo       ServiceInfo          `json:"serviceInfo"`
	HealthCheckConfig *HealthCheckSettings `json:"healthCheckConfig,omitempty"`
	PersonalConfig    map[string]any       `json:"personalConfig,omitempty"`
	DemoConfig        map[string]any       `json:"demoConfig,omitempty"`
	SaoLevel          SaoLevel             `json:"saoLevel,omitempty"`
	Tags              []string             `json:"tags,omitempty"`
	Metadata          map[string]any       `json:"metadata,omitempty"`
}

// MergePatch is a JSON merge patch (RFC 7396) of a record's writable fields:
// a nil value removes the member, a nested map merges, anything else
// replaces.
type MergePatch map[string]any

// Filter selects records for Discover and Watch. Every set field must
// match; the lists need all of their values.
type Filter struct {
	Company      string
	Region       string
	Environment  string
	Status       Status
	SaoLevel     SaoLevel
	Capabilities []string
	Tags         []string
	// MCP tool names the server reported; matches nothing on services that
	// were never introspected.
	Tools []string
}

// DiscoverQuery is one discover request.
type DiscoverQuery struct {
	Filter
	Limit  int    // page size, 1 to 1000; 0 means the daemon's default (100)
	Cursor string // NextCursor of the previous page
	// Long-poll: with Wait > 0, the request blocks until the registry's
	// change index passes Index, or until Wait ends.
	Index uint64
	Wait  time.Duration
}

// DiscoverPage is one page of a discover answer.
type DiscoverPage struct {
	Services []Service `json:"services"`
	Count    int       `json:"count"`
	// NextCursor is nil on the last page.
	NextCursor *string `json:"nextCursor"`
	// Index is the registry's change index at the time of the answer.
	Index uint64 `json:"index"`
}

// HealthReport is an external health report, counted like a check.
type HealthReport struct {
	OK           bool     `json:"ok"`
	ResponseTime *float64 `json:"responseTime,omitempty"` // milliseconds
	Message      string   `json:"message,omitempty"`
}

// CheckResult is one counted check.
type CheckResult struct {
	At           time.Time `json:"at"`
	OK           bool      `json:"ok"`
	ResponseTime *float64  `json:"responseTime"`
	Endpoint     string    `json:"endpoint"` // a URL, or "external" for a report
	Error        *string   `json:"error"`
}

// HealthDetail is a service's status, health and recent checks (newest first).
type HealthDetail struct {
	ServiceID    string        `json:"serviceId"`
	Status       Status        `json:"status"`
	HealthStatus HealthStatus  `json:"healthStatus"`
	RecentChecks []CheckResult `json:"recentChecks"`
}

// HeartbeatResponse is the answer to a heartbeat. ExpiresAt is nil for a
// service without a TTL.
type HeartbeatResponse struct {
	ServiceID string     `json:"serviceId"`
	Status    Status     `json:"status"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// EventType is the kind of a change.
type EventType string

const (
	EventUpsert EventType = "upsert"
	EventStatus EventType = "status"
	EventDelete EventType = "delete"
)

// ChangeEvent is one change of the registry, as a watch delivers it. For a
// delete, Service is the record's last state.
type ChangeEvent struct {
	Index   uint64    `json:"index"`
	Type    EventType `json:"type"`
	Service Service   `json:"service"`
}

// AuditEntry is one mutating request as the audit log keeps it.
type AuditEntry struct {
	At        time.Time `json:"at"`
	RequestID string    `json:"requestId"`
	Subject   string    `json:"subject"`
	Sao       string    `json:"sao"`
	Company   string    `json:"company"`
	Action    string    `json:"action"`
	ServiceID string    `json:"serviceId"`
	Result    string    `json:"result"` // "ok" or an error code
}

// AuditQuery narrows the audit log; zero values are left out.
type AuditQuery struct {
	Since time.Time
	Limit int
}

// Readiness is the answer of GET /ready.
type Readiness struct {
	Status   string `json:"status"`
	Services int    `json:"services"`
	Index    uint64 `json:"index"`
}

// Alert is one alert of the daemon's health checker.
type Alert struct {
	ID                  uint64     `json:"id"`
	At                  time.Time  `json:"at"`
	ServiceID           *string    `json:"serviceId"` // nil for a fleet-wide alert
	CompanyName         *string    `json:"companyName"`
	InstanceID          *string    `json:"instanceId"`
	Level               string     `json:"level"` // warning, critical, emergency
	Kind                string     `json:"kind"`  // raised, escalated, resolved
	Message             string     `json:"message"`
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	UnhealthySince      *time.Time `json:"unhealthySince"`
}

// AlertQuery narrows Alerts; zero values are left out.
type AlertQuery struct {
	ServiceID string
	Limit     int // 1 to 1000; 0: the daemon's default (100)
}
