package discovery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrWatchClosed is returned by Watcher.Next after Close.
var ErrWatchClosed = errors.New("discovery: watch closed")

// WatchOptions tune a watch; the zero value is a good default.
type WatchOptions struct {
	// LastEventID resumes after this change index: the Index of a discover
	// answer (to see every change after it), or a previous Watcher's
	// LastEventID. Empty: changes from now on.
	LastEventID string
	// NoReconnect makes Next return the error when the stream ends or drops,
	// instead of reconnecting with Last-Event-ID.
	NoReconnect bool
	// First reconnect delay (default 250ms), doubled up to MaxReconnectDelay
	// (default 5s), with jitter.
	ReconnectDelay    time.Duration
	MaxReconnectDelay time.Duration
}

// Watcher reads the registry's changes from the watch stream (Server-Sent
// Events). Next blocks for the next change; when the stream ends or the
// connection drops, it reconnects with Last-Event-ID so that no retained
// change is missed or repeated. Next is for one goroutine; Close and
// LastEventID may be called from any.
type Watcher struct {
	client *Client
	filter Filter
	opts   WatchOptions
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	mu     sync.Mutex
	lastID string

	body          io.ReadCloser
	reader        *bufio.Reader
	cancelAttempt context.CancelFunc
}

// Watch opens a watch stream of the changes to records that match f, and
// returns once the daemon has accepted it (so an error such as 401 is
// returned here). Changes made after Watch returns are delivered. Cancel ctx
// or call Close to end it.
func (c *Client) Watch(ctx context.Context, f Filter, opts *WatchOptions) (*Watcher, error) {
	w := &Watcher{client: c, filter: f}
	if opts != nil {
		w.opts = *opts
	}
	if w.opts.ReconnectDelay <= 0 {
		w.opts.ReconnectDelay = 250 * time.Millisecond
	}
	if w.opts.MaxReconnectDelay <= 0 {
		w.opts.MaxReconnectDelay = 5 * time.Second
	}
	w.lastID = w.opts.LastEventID
	w.ctx, w.cancel = context.WithCancel(ctx)
	if err := w.connect(); err != nil {
		w.cancel()
		return nil, err
	}
	return w, nil
}

// LastEventID is the id of the last message received: pass it as
// WatchOptions.LastEventID to resume later.
func (w *Watcher) LastEventID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastID
}

// Close ends the watch; a blocked Next returns ErrWatchClosed.
func (w *Watcher) Close() error {
	w.closed.Store(true)
	w.cancel()
	return nil
}

// Next returns the next change. It returns ErrWatchClosed after Close,
// ctx.Err() when the context of Watch ends, and an *Error when a reconnect
// is refused for good (e.g. 401 after the token expired).
func (w *Watcher) Next() (*ChangeEvent, error) {
	delay := w.opts.ReconnectDelay
	for {
		if w.reader == nil {
			if err := w.connect(); err != nil {
				if stop := w.stopped(); stop != nil {
					return nil, stop
				}
				if !transient(w.ctx, err) {
					return nil, err
				}
				if err := w.pause(delay); err != nil {
					return nil, err
				}
				if delay *= 2; delay > w.opts.MaxReconnectDelay {
					delay = w.opts.MaxReconnectDelay
				}
				continue
			}
			delay = w.opts.ReconnectDelay
		}
		event, err := w.read()
		if err == nil {
			return event, nil
		}
		w.disconnect()
		if stop := w.stopped(); stop != nil {
			return nil, stop
		}
		if w.opts.NoReconnect {
			return nil, err
		}
		if err := w.pause(delay); err != nil {
			return nil, err
		}
	}
}

func (w *Watcher) stopped() error {
	if w.closed.Load() {
		return ErrWatchClosed
	}
	return w.ctx.Err()
}

func (w *Watcher) pause(d time.Duration) error {
	timer := time.NewTimer(time.Duration(float64(d) * (0.5 + rand.Float64())))
	defer timer.Stop()
	select {
	case <-w.ctx.Done():
		return w.stopped()
	case <-timer.C:
		return nil
	}
}

func (w *Watcher) connect() error {
	actx, cancel := context.WithCancel(w.ctx)
	header := http.Header{"Accept": {"text/event-stream"}}
	if id := w.LastEventID(); id != "" {
		header.Set("Last-Event-ID", id)
	}
	req, err := w.client.newRequest(actx, call{method: http.MethodGet, path: servicesPath + "/watch",
		query: w.filter.values(), header: header}, nil)
	if err != nil {
		cancel()
		return err
	}
	// The stream is long-lived: only its answer has a deadline.
	timer := time.AfterFunc(w.client.timeout, cancel)
	resp, err := w.client.httpClient.Do(req)
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return fmt.Errorf("discovery: watch: no answer within %v", w.client.timeout)
	}
	if err != nil {
		cancel()
		return err
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		return errorFromResponse(resp, data)
	}
	w.body, w.reader, w.cancelAttempt = resp.Body, bufio.NewReader(resp.Body), cancel
	return nil
}

func (w *Watcher) disconnect() {
	if w.body != nil {
		w.body.Close()
		w.cancelAttempt()
	}
	w.body, w.reader, w.cancelAttempt = nil, nil, nil
}

// read parses the stream (WHATWG HTML, "event stream interpretation") up to
// the next `change` message.
func (w *Watcher) read() (*ChangeEvent, error) {
	var event, id string
	var data []string
	hasID := false
	for {
		line, err := w.reader.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			// The id counts once its message is complete (the spec's "last
			// event ID buffer"), so a message cut off is asked for again.
			if hasID {
				w.mu.Lock()
				w.lastID = id
				w.mu.Unlock()
			}
			if data != nil && event == "change" {
				var ev ChangeEvent
				if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev); err != nil {
					return nil, fmt.Errorf("discovery: watch: bad event data: %w", err)
				}
				return &ev, nil
			}
			event, data, hasID = "", nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // keep-alive comment
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			data = append(data, value)
		case "id":
			if !strings.ContainsRune(value, 0) {
				id, hasID = value, true
			}
		}
	}
}
