package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Code is an error code of the REST contract (API.md, "Errors").
type Code string

const (
	CodeInvalidArgument       Code = "invalid_argument"         // 400
	CodeUnauthenticated       Code = "unauthenticated"          // 401
	CodePermissionDenied      Code = "permission_denied"        // 403
	CodeNotFound              Code = "not_found"                // 404
	CodeMethodNotAllowed      Code = "method_not_allowed"       // 405
	CodeConflict              Code = "conflict"                 // 409
	CodePayloadTooLarge       Code = "payload_too_large"        // 413
	CodeUnsupportedMediaType  Code = "unsupported_media_type"   // 415
	CodeRateLimited           Code = "rate_limited"             // 429
	CodeRequestHeaderTooLarge Code = "request_header_too_large" // 431
	CodeInternal              Code = "internal"                 // 500
	CodeUnavailable           Code = "unavailable"              // 503
	codeUnknown               Code = "unknown"
)

// Error is an error answer of the daemon. Use errors.As to read it, or
// errors.Is with one of the Err* values to test its code:
//
//	var e *discovery.Error
//	if errors.As(err, &e) && e.Code == discovery.CodeInvalidArgument { ... e.Field ... }
//	if errors.Is(err, discovery.ErrNotFound) { ... }
type Error struct {
	Status    int    // HTTP status
	Code      Code   // API.md's code
	Message   string // for bad input, starts with the field
	Field     string // for invalid_argument: the offending field or parameter
	RequestID string // X-Request-Id of the answer (the audit log's requestId)
	// RetryAfter is the server's Retry-After on a 429 or 503, else 0.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("discovery: %s (%d): %s", e.Code, e.Status, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNotFound) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Values to compare with errors.Is; only their Code matters.
var (
	ErrInvalidArgument       = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	ErrUnauthenticated       = &Error{Code: CodeUnauthenticated, Message: "unauthenticated"}
	ErrPermissionDenied      = &Error{Code: CodePermissionDenied, Message: "permission denied"}
	ErrNotFound              = &Error{Code: CodeNotFound, Message: "not found"}
	ErrMethodNotAllowed      = &Error{Code: CodeMethodNotAllowed, Message: "method not allowed"}
	ErrConflict              = &Error{Code: CodeConflict, Message: "conflict"}
	ErrPayloadTooLarge       = &Error{Code: CodePayloadTooLarge, Message: "payload too large"}
	ErrUnsupportedMediaType  = &Error{Code: CodeUnsupportedMediaType, Message: "unsupported media type"}
	ErrRateLimited           = &Error{Code: CodeRateLimited, Message: "rate limited"}
	ErrRequestHeaderTooLarge = &Error{Code: CodeRequestHeaderTooLarge, Message: "request header too large"}
	ErrInternal              = &Error{Code: CodeInternal, Message: "internal"}
	ErrUnavailable           = &Error{Code: CodeUnavailable, Message: "unavailable"}
)

var codeByStatus = map[int]Code{
	400: CodeInvalidArgument, 401: CodeUnauthenticated, 403: CodePermissionDenied,
	404: CodeNotFound, 405: CodeMethodNotAllowed, 409: CodeConflict,
	413: CodePayloadTooLarge, 415: CodeUnsupportedMediaType, 429: CodeRateLimited,
	431: CodeRequestHeaderTooLarge, 500: CodeInternal, 503: CodeUnavailable,
}

// errorFromResponse reads API.md's error body; an answer without one (a
// proxy's) still maps by status.
func errorFromResponse(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var wire struct {
		Error *struct {
			Code    Code   `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &wire) == nil && wire.Error != nil {
		e.Code, e.Message, e.Field = wire.Error.Code, wire.Error.Message, wire.Error.Field
	}
	if e.Code == "" {
		if c, ok := codeByStatus[resp.StatusCode]; ok {
			e.Code = c
		} else if resp.StatusCode >= 500 {
			e.Code = CodeInternal
		} else {
			e.Code = codeUnknown
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
