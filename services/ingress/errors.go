package ingress

import (
	"encoding/json"
	"net/http"
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
	errApprovalRequired  = "approval_required"
	errDecisionTimeout   = "decision_timeout"
	errBusUnavailable    = "bus_unavailable"
	errNoCredential      = "connection_not_configured"
	errBadRequest        = "bad_request"
	errUpstream          = "upstream_error"
	errUpstreamTimeout   = "upstream_timeout"
	errMaskerUnavailable = "masker_unavailable"
	errMaskingFailed     = "masking_failed"
	errUninspectableBody = "uninspectable_body"
	errBodyTooLarge      = "body_too_large"
)

func writeRefusal(w http.ResponseWriter, status int, r refusal) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}
