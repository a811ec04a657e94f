// Package event defines the messages that Airlock's services exchange on the
// bus. Each type has a JSON Schema in schemas/ (draft 2020-12); the field
// names here and there must agree, which event_test.go checks.
package event

import (
	"time"

	"github.com/oklog/ulid/v2"
)

// Version is the schema version carried in every event's "v" field.
const Version = 1

// Effects a verdict can carry.
const (
	EffectAllow   = "allow"
	EffectDeny    = "deny"
	EffectApprove = "approve"
)

// NewID returns a new request id: a ULID, sortable by time.
func NewID() string { return ulid.Make().String() }

// Identity is who made a request, as verified from the agent's OIDC token.
type Identity struct {
	// Subject is the token's "sub" claim.
	Subject string `json:"sub"`
	// Issuer is the token's "iss" claim.
	Issuer string `json:"iss"`
	// Email is the "email" claim, if any.
	Email string `json:"email,omitempty"`
	// Groups come from the configured groups claim.
	Groups []string `json:"groups"`
}

// Body describes a request body as the ingress inspected it.
type Body struct {
	// Size is the number of bytes inspected (at most the inspect limit).
	Size int64 `json:"size"`
	// ContentLength is the declared length, or -1 when unknown (chunked).
	ContentLength int64 `json:"content_length"`
	// Truncated is true when the body was larger than the inspect limit:
	// policy saw only its first Size bytes.
	Truncated bool `json:"truncated"`
	// SHA256 is the hex digest of the bytes Inline or Object hold: the
	// inspected bytes, masked when Masked.
	SHA256 string `json:"sha256"`
	// Inline holds the inspected bytes when they fit the inline limit.
	Inline []byte `json:"inline,omitempty"`
	// Object names the object-store entry holding the inspected bytes when
	// they do not fit the inline limit.
	Object string `json:"object,omitempty"`
	// Masked is true when the masker replaced secrets in what Inline or
	// Object hold: the bus never carries them.
	Masked bool `json:"masked,omitempty"`
	// Omitted is how many of the Size bytes inspected the event does not
	// carry: a binary body (never scanned, so never journaled), a git
	// push's pack objects (scanned blob by blob, carried as findings).
	Omitted int64 `json:"omitted,omitempty"`
}

// Finding is a secret the masker found: the rule, where, and a salted
// fingerprint of the value. Never the value.
type Finding struct {
	// Rule is the detector rule (gitleaks' id, or an Airlock extra) or
	// "field:<pattern>" for a JSON field rule.
	Rule string `json:"rule"`
	// Location says where: "body@<offset>" in the decoded body, a JSON
	// path ("$.content (base64)@<offset>", "$.user.password"), or the file
	// a pushed commit adds it in ("push:config/prod.pem").
	Location string `json:"location"`
	// Fingerprint is the hex HMAC-SHA256 of the value under the
	// deployment's salt: the same secret seen twice has the same one.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Request is published by the ingress for every authenticated request, on
// subject.Request(conn, id), before anything is forwarded.
type Request struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Connection is the configured connection the request was routed to.
	Connection string `json:"connection"`
	// ConnectionType is github, git, http or mcp.
	ConnectionType string   `json:"connection_type"`
	Identity       Identity `json:"identity"`
	Method         string   `json:"method"`
	// Host is the Host header the agent sent.
	Host string `json:"host"`
	// Path is the path below the connection prefix, escaped as received.
	Path string `json:"path"`
	// Query is the raw query string, without "?".
	Query string `json:"query"`
	// Headers are the request headers without credentials (Authorization,
	// Proxy-Authorization, Cookie), canonical names.
	Headers map[string][]string `json:"headers"`
	Body    *Body               `json:"body,omitempty"`
	// Findings are the secrets the masker found in the outgoing body (or
	// in the files a git push adds): policy may deny on them.
	Findings []Finding `json:"findings,omitempty"`
}

// Verdict is the policy service's answer to a request, on subject.Verdict(id).
type Verdict struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Effect is allow, deny or approve.
	Effect string `json:"effect"`
	// Rule names the rule that decided; empty when no rule matched (the
	// default deny).
	Rule string `json:"rule"`
	// Reason is the deciding rule's reason, or why nothing matched.
	Reason string `json:"reason"`
	// Shadow lists rules in shadow mode that matched: evaluated and
	// recorded, not enforced.
	Shadow []RuleMatch `json:"shadow,omitempty"`
	// EvalMicros is how long evaluation took.
	EvalMicros int64 `json:"eval_us"`
	// ForwardPath is the canonical path policy judged, escaped: the ingress
	// forwards this path, not the agent's spelling of it, so that the
	// upstream acts on what was judged.
	ForwardPath string `json:"forward_path,omitempty"`
	// Operation is what the request does, in the service's terms.
	Operation *Operation `json:"operation,omitempty"`
	// MaskSecrets tells the ingress to forward the body with the secrets
	// the masker found masked (the deciding allow rule's mask_secrets).
	MaskSecrets bool `json:"mask_secrets,omitempty"`
	// Request is the request event, carried with an approve verdict only:
	// the approver needs it to bind the approval, and the AIRLOCK stream
	// keeps an event only until its consumers have acked it (interest
	// retention), so it cannot be read back later.
	Request *Request `json:"request,omitempty"`
}

// Operation is the classification of a request, carried in the verdict so
// that every later event and the audit speak in the service's terms
// ("contents.write on acme/prod-api path .github/workflows/deploy.yml").
type Operation struct {
	// Action is the stable action name: contents.write, git.refs.delete,
	// git.push, mcp.tools.call, graphql.mutation, unknown.write, ….
	Action string `json:"action"`
	// Write is true when the request changes state.
	Write bool `json:"write"`
	// Repo is "owner/name" when the request names a repository.
	Repo string `json:"repo,omitempty"`
	// Refs are the refs it touches ("refs/heads/main").
	Refs []string `json:"refs,omitempty"`
	// Path is the file path inside the repository (contents API).
	Path string `json:"path,omitempty"`
	// Summary is one line for people: the audit and the approval message.
	Summary string `json:"summary"`
}

// RuleMatch names a rule that matched and the effect it would have had.
type RuleMatch struct {
	Rule   string `json:"rule"`
	Effect string `json:"effect"`
}

// Response is the ingress's record of what happened to a request after the
// verdict, on subject.Response(id).
type Response struct {
	V          int       `json:"v"`
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"`
	// Status is the HTTP status returned to the agent.
	Status int `json:"status"`
	// Forwarded is true when the request reached the upstream.
	Forwarded bool `json:"forwarded"`
	// BytesIn and BytesOut count the request and response bodies.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// UpstreamMillis is the time to the upstream's response headers.
	UpstreamMillis float64 `json:"upstream_ms"`
	// Error says what went wrong, if anything.
	Error string `json:"error,omitempty"`
	// Masked is true when the body went through the masker.
	Masked bool `json:"masked,omitempty"`
	// Findings are the secrets masked in the response body.
	Findings []Finding `json:"findings,omitempty"`
	// Body is the masked response body, for the recorder: up to the
	// inspect limit (Truncated beyond), inline or in the object store.
	// Only bodies that went through the masker are kept.
	Body *Body `json:"body,omitempty"`
}

// Audit is the compact, one-per-request record that operators subscribe to,
// on subject.Audit(conn).
type Audit struct {
	V          int       `json:"v"`
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"`
	// Identity is the verified subject; empty when authentication failed.
	Identity string   `json:"identity"`
	Groups   []string `json:"groups"`
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	// Action is the classified operation (verdict.operation.action), empty
	// when the request never reached policy.
	Action string `json:"action"`
	// Summary says what the request does, in the service's terms.
	Summary string `json:"summary,omitempty"`
	// Shadow lists the shadow-mode rules that matched: what they would
	// have done, not enforced.
	Shadow []RuleMatch `json:"shadow,omitempty"`
	// Decision is allow, deny, approve, unauthenticated or error.
	Decision string `json:"decision"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
	Status   int    `json:"status"`
	// LatencyMillis is the whole time spent in the gateway and upstream.
	LatencyMillis float64 `json:"latency_ms"`
	// Findings counts the secrets masked, both directions.
	Findings int `json:"findings,omitempty"`
	// Approver is who decided a held request (Decision.By).
	Approver string `json:"approver,omitempty"`
}

// Approval kinds.
const (
	// ApprovalRequested: a human was asked.
	ApprovalRequested = "requested"
	// ApprovalRefused: an interaction was refused (unsigned, replayed, a
	// non-approver, the requester, already decided).
	ApprovalRefused = "refused"
)

// Approval is the approver's record of a held request, on
// subject.Approval(id): that a human was asked, and every interaction it
// refused. The approval id is the held request's id.
type Approval struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Kind is requested or refused.
	Kind       string `json:"kind"`
	Connection string `json:"connection"`
	// Identity is who asked (the requester).
	Identity string `json:"identity"`
	// Operation is what the held request does.
	Operation *Operation `json:"operation,omitempty"`
	// Rule is the rule that asked for approval.
	Rule string `json:"rule"`
	// Approvers are who may decide: Slack user ids, emails, cli.
	Approvers []string `json:"approvers,omitempty"`
	// Expires is when the held request stops waiting.
	Expires time.Time `json:"expires"`
	// By is who clicked, for a refusal; Reason why it was refused.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Outcomes of a decision.
const (
	OutcomeApprove = "approve"
	OutcomeDeny    = "deny"
)

// Decision releases or refuses a held request, on subject.Decision(id).
type Decision struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Outcome is approve or deny.
	Outcome string `json:"outcome"`
	// By is who decided: a Slack user ("slack:U…"), an operator
	// ("cli:name"), or the grant that covered the request ("grant:…").
	By string `json:"by"`
	// Reason is the decider's reason (a denial's).
	Reason string `json:"reason,omitempty"`
	// WindowSeconds is the time window a grant was given for; 0 for once.
	WindowSeconds int64 `json:"window_s,omitempty"`
}

// Decisions in audit events beyond the verdict effects.
const (
	DecisionUnauthenticated = "unauthenticated"
	DecisionError           = "error"
)

// ValidID says whether id is a request id: a ULID in its canonical form.
func ValidID(id string) bool {
	_, err := ulid.ParseStrict(id)
	return err == nil && len(id) == ulid.EncodedSize
}
