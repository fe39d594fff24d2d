// Package discoverytest starts a real discoveryd for tests and mints HS256
// tokens of any level from its secret, as net/http/httptest does for HTTP
// servers.
//
//	d, err := discoverytest.Start("/path/to/discoveryd")
//	defer d.Stop()
//	c := discovery.New(d.URL, discovery.WithToken(d.Token(discoverytest.Claims{Sao: "diamond"})))
package discoverytest

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Claims of a minted token. Company is required for sapphire, opal and onyx.
type Claims struct {
	Sao     string
	Company string
	Subject string        // default "<sao>-<company>"
	TTL     time.Duration // default 1h
}

// TrimSecret is the key a secret file holds: its bytes without trailing
// whitespace (API.md, "Access").
func TrimSecret(b []byte) []byte {
	return []byte(strings.TrimRight(string(b), " \t\r\n\v\f"))
}

// ReadSecretFile reads and trims a secret file.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return TrimSecret(b), nil
}

// MintToken returns an HS256 JWT with the claims sub, sao, company (when
// set), iat and exp.
func MintToken(secret []byte, c Claims) string {
	now := time.Now().Unix()
	ttl := c.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	sub := c.Subject
	if sub == "" {
		company := c.Company
		if company == "" {
			company = "any"
		}
		sub = c.Sao + "-" + company
	}
	claims := map[string]any{"sub": sub, "sao": c.Sao, "iat": now, "exp": now + int64(ttl/time.Second)}
	if c.Company != "" {
		claims["company"] = c.Company
	}
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

// Daemon is a discoveryd under test.
type Daemon struct {
	URL    string
	Secret []byte
	// Shared is true for the daemon named by the environment (FromEnv): Stop
	// leaves it running.
	Shared   bool
	DataDir  string
	ownsDir  bool
	cmd      *exec.Cmd
	stopOnce sync.Once
	stopErr  error
	exited   chan error
	stderr   *tail
}

// Token mints a token for this daemon.
func (d *Daemon) Token(c Claims) string { return MintToken(d.Secret, c) }

var listening = regexp.MustCompile(`listening on (https?://\S+)`)

// Start runs discoveryd on 127.0.0.1:0 with memory storage and a temporary
// data directory, and returns once it accepts connections. Extra flags go
// after the defaults, so they may override them. Its standard output is not
// echoed (it prints a token).
func Start(binary string, args ...string) (*Daemon, error) {
	return StartWith(Options{Binary: binary, Args: args})
}

// Options of StartWith.
type Options struct {
	Binary string
	// Flags after the defaults (--listen 127.0.0.1:0 --storage memory
	// --data-dir DIR --log-level warn), which they may override.
	Args []string
	// DataDir, when set, is used instead of a temporary directory and is
	// left in place by Stop (to restart a daemon on the same data).
	DataDir string
}

// StartWith is Start with every option.
func StartWith(o Options) (*Daemon, error) {
	dir, ownsDir := o.DataDir, o.DataDir == ""
	if ownsDir {
		var err error
		if dir, err = os.MkdirTemp("", "discoveryd-go-"); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(o.Binary, append([]string{"--listen", "127.0.0.1:0", "--storage", "memory",
		"--data-dir", dir, "--log-level", "warn"}, o.Args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISCOVERY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &Daemon{DataDir: dir, ownsDir: ownsDir, cmd: cmd, exited: make(chan error, 1), stderr: &tail{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		d.removeDir()
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if m := listening.FindStringSubmatch(scanner.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { d.exited <- cmd.Wait() }()
	select {
	case d.URL = <-found:
	case err := <-d.exited:
		d.removeDir()
		return nil, fmt.Errorf("discoveryd exited before listening (%v): %s", err, d.stderr)
	case <-time.After(30 * time.Second):
		d.kill()
		return nil, fmt.Errorf("discoveryd did not start within 30s: %s", d.stderr)
	}
	if d.Secret, err = ReadSecretFile(filepath.Join(dir, "jwt-secret")); err != nil {
		d.kill()
		return nil, err
	}
	return d, nil
}

// FromEnv is the daemon named by DISCOVERY_URL and DISCOVERY_JWT_SECRET_FILE
// when both are set (the conformance runner), else a new one from Start.
func FromEnv(binary string, args ...string) (*Daemon, error) {
	url, secretFile := os.Getenv("DISCOVERY_URL"), os.Getenv("DISCOVERY_JWT_SECRET_FILE")
	if url != "" && secretFile != "" {
		secret, err := ReadSecretFile(secretFile)
		if err != nil {
			return nil, err
		}
		return &Daemon{URL: strings.TrimRight(url, "/"), Secret: secret, Shared: true}, nil
	}
	return Start(binary, args...)
}

// Stop sends SIGTERM and waits (up to 15s, then kills); it returns an error
// when the daemon did not exit 0. A shared daemon is left running. Calling
// it again returns the first answer.
func (d *Daemon) Stop() error {
	if d.Shared || d.cmd == nil {
		return nil
	}
	d.stopOnce.Do(func() {
		defer d.removeDir()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.exited:
			if err != nil {
				d.stopErr = fmt.Errorf("discoveryd: %v: %s", err, d.stderr)
			}
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
			d.stopErr = errors.New("discoveryd did not stop within 15s of SIGTERM")
		}
	})
	return d.stopErr
}

func (d *Daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
	d.removeDir()
}

func (d *Daemon) removeDir() {
	if d.ownsDir {
		os.RemoveAll(d.DataDir)
	}
}

// tail keeps the last 4 KiB written, for error messages.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
