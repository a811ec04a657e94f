package ingress

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// refusal is the JSON body of every response the gateway itself makes:
// {"error", "reason", "rule", "request_id"}.
type refusal struct {
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	Rule      string `json:"rule,omitempty"`
	RequestID string `json:"request_id"`
}

// Error codes, stable for clients to branch on.
const (
	errUnauthenticated   = "unauthenticated"
	errIssuerUnavailable = "issuer_unavailable"
	errNoConnection      = "no_such_connection"
	errDenied            = "denied"
	errDecisionTimeout   = "decision_timeout"
	errBusUnavailable    = "bus_unavailable"
	errNoCredential      = "connection_not_configured"
	errBadRequest        = "bad_request"
	errRequestTimeout    = "request_timeout"
	errUpstream          = "upstream_error"
	errUpstreamTimeout   = "upstream_timeout"
	errMaskerUnavailable = "masker_unavailable"
	errMaskingFailed     = "masking_failed"
	errUninspectableBody = "uninspectable_body"
	errBodyTooLarge      = "body_too_large"
)

// pending is the answer to a request held for approval when no decision
// came within the hold timeout: 202, with the approval id and when to
// retry. Once approved, the retry passes under the grant.
type pending struct {
	Status     string `json:"status"`
	ApprovalID string `json:"approval_id"`
	RetryAfter int    `json:"retry_after"`
	Reason     string `json:"reason"`
	Rule       string `json:"rule,omitempty"`
	RequestID  string `json:"request_id"`
}

func writePending(w http.ResponseWriter, p pending) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(p)
}

func writeRefusal(w http.ResponseWriter, status int, r refusal) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}
