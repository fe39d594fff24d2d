// Package discovery is a client of discoveryd, the service-discovery daemon
// for fleets of MCP servers (the REST contract of API.md). It uses only the
// standard library.
//
//	c := discovery.New("http://127.0.0.1:8080", discovery.WithToken(token))
//	svc, err := c.Register(ctx, &discovery.Registration{...})
//	p := c.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Company: "acme"}})
//	for p.Next(ctx) { fmt.Println(p.Service().ServiceID) }
//	if err := p.Err(); err != nil { ... }
//
// Errors of the daemon are *Error values (errors.As, or errors.Is with
// ErrNotFound and friends). Idempotent calls are retried after 503, 429
// (honouring Retry-After), 409, 502, 504, a per-attempt timeout, or a dropped
// connection. A Client is safe for concurrent use.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version of this client, sent in User-Agent.
const Version = "0.1.0"

const servicesPath = "/api/v1/services"

// Client talks to one discoveryd.
type Client struct {
	baseURL    string
	token      func(context.Context) (string, error)
	httpClient *http.Client
	timeout    time.Duration
	retries    int
	retryDelay time.Duration
	userAgent  string
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets a fixed bearer token.
func WithToken(token string) Option {
	return func(c *Client) {
		c.token = func(context.Context) (string, error) { return token, nil }
	}
}

// WithTokenSource sets a function called for every request, so that tokens
// can be refreshed.
func WithTokenSource(source func(context.Context) (string, error)) Option {
	return func(c *Client) { c.token = source }
}

// WithHTTPClient replaces the HTTP client (default: a dedicated one with
// keep-alive connections).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithTimeout sets the time one attempt may take (default 30s). A long-poll
// adds its wait.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many further attempts an idempotent call gets
// (default 2), and the first backoff (default 100ms, doubled each time).
func WithRetries(n int, firstDelay time.Duration) Option {
	return func(c *Client) { c.retries, c.retryDelay = n, firstDelay }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the daemon at baseURL (e.g. "http://127.0.0.1:8080").
func New(baseURL string, options ...Option) *Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		httpClient: &http.Client{Transport: transport},
		timeout:    30 * time.Second,
		retries:    2,
		retryDelay: 100 * time.Millisecond,
		userAgent:  "mcp-discovery-go/" + Version,
	}
	for _, o := range options {
		o(c)
	}
	return c
}

// BaseURL is the daemon's address as given to New.
func (c *Client) BaseURL() string { return c.baseURL }

// ---------------------------------------------------------------- services --

// Register registers a service, or re-registers the same (companyName,
// instanceId), which updates it and keeps its serviceId.
func (c *Client) Register(ctx context.Context, r *Registration) (*Service, error) {
	var out Service
	err := c.do(ctx, call{method: http.MethodPost, path: servicesPath + "/register", body: r,
		idempotent: r != nil && r.InstanceID != ""}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Discover answers one page of a query.
func (c *Client) Discover(ctx context.Context, q DiscoverQuery) (*DiscoverPage, error) {
	params := q.Filter.values()
	if q.Limit > 0 {
		params.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		params.Set("cursor", q.Cursor)
	}
	timeout := c.timeout
	if q.Wait > 0 {
		params.Set("index", strconv.FormatUint(q.Index, 10))
		params.Set("wait", strconv.FormatInt(q.Wait.Milliseconds(), 10)+"ms")
		timeout += q.Wait
	}
	var out DiscoverPage
	err := c.do(ctx, call{method: http.MethodGet, path: servicesPath + "/discover", query: params, timeout: timeout}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one record.
func (c *Client) Get(ctx context.Context, serviceID string) (*Service, error) {
	var out Service
	if err := c.do(ctx, call{method: http.MethodGet, path: servicePath(serviceID)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Patch applies a JSON merge patch (RFC 7396) to the writable fields: a
// MergePatch, or any value that marshals to a JSON object.
func (c *Client) Patch(ctx context.Context, serviceID string, patch any) (*Service, error) {
	var out Service
	err := c.do(ctx, call{method: http.MethodPatch, path: servicePath(serviceID), body: patch,
		contentType: "application/merge-patch+json", idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Deregister removes a service.
func (c *Client) Deregister(ctx context.Context, serviceID string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: servicePath(serviceID)}, nil)
}

// SetStatus sets the operator status.
func (c *Client) SetStatus(ctx context.Context, serviceID string, status Status) (*Service, error) {
	var out Service
	err := c.do(ctx, call{method: http.MethodPut, path: servicePath(serviceID) + "/status",
		body: map[string]Status{"status": status}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Health returns the health detail of a service.
func (c *Client) Health(ctx context.Context, serviceID string) (*HealthDetail, error) {
	var out HealthDetail
	if err := c.do(ctx, call{method: http.MethodGet, path: servicePath(serviceID) + "/health"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportHealth sends an external health report, counted like a check. It is
// not retried: every report counts.
func (c *Client) ReportHealth(ctx context.Context, serviceID string, report HealthReport) (*HealthStatus, error) {
	var out HealthStatus
	err := c.do(ctx, call{method: http.MethodPut, path: servicePath(serviceID) + "/health", body: report,
		notIdempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat refreshes a service's TTL.
func (c *Client) Heartbeat(ctx context.Context, serviceID string) (*HeartbeatResponse, error) {
	var out HeartbeatResponse
	err := c.do(ctx, call{method: http.MethodPost, path: servicePath(serviceID) + "/heartbeat", idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Audit returns the audit log (diamond only), oldest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	params := url.Values{}
	if !q.Since.IsZero() {
		params.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		params.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Entries []AuditEntry `json:"entries"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/v1/audit", query: params}, &out); err != nil {
		return nil, err
	}
	return out.Entries, nil
}

// Alerts returns the health checker's recent alerts that the caller may read
// (the levels that may read health history; fleet-wide alerts for diamond
// and emerald only).
func (c *Client) Alerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	params := url.Values{}
	if q.ServiceID != "" {
		params.Set("serviceId", q.ServiceID)
	}
	if q.Limit > 0 {
		params.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/v1/alerts", query: params}, &out); err != nil {
		return nil, err
	}
	return out.Alerts, nil
}

// ------------------------------------------------------------------ daemon --

// DaemonHealth checks the daemon's liveness (GET /health, no token).
func (c *Client) DaemonHealth(ctx context.Context) error {
	return c.do(ctx, call{method: http.MethodGet, path: "/health", noAuth: true}, nil)
}

// DaemonReady returns the daemon's readiness (GET /ready, no token).
func (c *Client) DaemonReady(ctx context.Context) (*Readiness, error) {
	var out Readiness
	if err := c.do(ctx, call{method: http.MethodGet, path: "/ready", noAuth: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Metrics returns the Prometheus text exposition. The token is sent when the
// client has one (a daemon may require it).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out bytes.Buffer
	err := c.do(ctx, call{method: http.MethodGet, path: "/metrics", raw: &out}, nil)
	return out.String(), err
}

// OpenAPI returns the daemon's OpenAPI 3.1 document, as JSON.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, call{method: http.MethodGet, path: "/openapi.json", noAuth: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// --------------------------------------------------------------- plumbing --

func servicePath(serviceID string) string {
	return servicesPath + "/" + url.PathEscape(serviceID)
}

func (f Filter) values() url.Values {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	set("company", f.Company)
	set("region", f.Region)
	set("environment", f.Environment)
	set("status", string(f.Status))
	set("saoLevel", string(f.SaoLevel))
	for _, c := range f.Capabilities {
		v.Add("capabilities", c)
	}
	for _, t := range f.Tags {
		v.Add("tags", t)
	}
	for _, t := range f.Tools {
		v.Add("tools", t)
	}
	return v
}

type call struct {
	method        string
	path          string
	query         url.Values
	body          any
	contentType   string
	header        http.Header
	timeout       time.Duration
	idempotent    bool // POST/PATCH calls that may be repeated
	notIdempotent bool // PUT calls that may not
	noAuth        bool
	raw           *bytes.Buffer // the body as text instead of JSON
}

func (k call) retryable() bool {
	if k.notIdempotent {
		return false
	}
	switch k.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return k.idempotent
}

func (c *Client) do(ctx context.Context, k call, out any) error {
	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("discovery: encoding the request: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, k, payload, out)
		if err == nil || attempt >= c.retries || !k.retryable() || !transient(ctx, err) {
			return err
		}
		delay := time.Duration(float64(c.retryDelay) * float64(int(1)<<attempt) * (0.5 + rand.Float64()))
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			delay = e.RetryAfter
			if delay > 30*time.Second {
				delay = 30 * time.Second
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// transient reports whether another attempt may succeed: the daemon was
// overloaded or briefly away, or this attempt timed out (but not the
// caller's context).
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
			return true
		case http.StatusConflict: // a concurrent write won; API.md: retrying is safe
			return true
		}
		return false
	}
	return true // transport: refused, reset, per-attempt timeout
}

func (c *Client) newRequest(ctx context.Context, k call, payload []byte) (*http.Request, error) {
	u := c.baseURL + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	for name, values := range k.header {
		req.Header[name] = values
	}
	if payload != nil {
		ct := k.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if !k.noAuth && c.token != nil {
		token, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("discovery: token: %w", err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	return req, nil
}

func (c *Client) attempt(ctx context.Context, k call, payload []byte, out any) error {
	timeout := k.timeout
	if timeout == 0 {
		timeout = c.timeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := c.newRequest(actx, k, payload)
	if err != nil {
		return err
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return err // *url.Error; errors.Is(err, context.DeadlineExceeded) on a timeout
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("discovery: %s %s: reading the answer: %w", k.method, k.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromResponse(resp, data)
	}
	if k.raw != nil {
		k.raw.Write(data)
		return nil
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("discovery: %s %s: decoding the answer: %w", k.method, k.path, err)
	}
	return nil
}
