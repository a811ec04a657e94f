// Package subject names every NATS subject, stream, consumer and bucket that
// Airlock's services share. It is the one place where they are spelled.
package subject

import "strings"

// Streams.
const (
	// Stream carries the life of each request: request, verdict, approval,
	// decision and response events.
	Stream = "AIRLOCK"
	// AuditStream carries one compact audit event per request; operators
	// subscribe to it.
	AuditStream = "AIRLOCK_AUDIT"
)

// Subject families. JetStream allows a subject in one stream only, so the
// AIRLOCK stream lists these explicitly rather than "airlock.>".
const (
	RequestPrefix  = "airlock.req."
	VerdictPrefix  = "airlock.verdict."
	ApprovalPrefix = "airlock.approval."
	DecisionPrefix = "airlock.decision."
	ResponsePrefix = "airlock.resp."
	AuditPrefix    = "airlock.audit."
)

// StreamSubjects are the subjects of Stream.
var StreamSubjects = []string{
	RequestPrefix + ">",
	VerdictPrefix + ">",
	ApprovalPrefix + ">",
	DecisionPrefix + ">",
	ResponsePrefix + ">",
}

// AuditStreamSubjects are the subjects of AuditStream.
var AuditStreamSubjects = []string{AuditPrefix + ">"}

// Masking is request-reply on core NATS, outside the streams: a body is
// transient, and what stays (the masked response event) is journaled by the
// ingress. Masker replicas share the work as one queue group.
const (
	MaskPrefix = "airlock.mask."
	// MaskQueue is the masker's queue group.
	MaskQueue = "masker"
)

// Mask is the subject the ingress sends a connection's bodies to.
func Mask(conn string) string { return MaskPrefix + Token(conn) }

// Durable consumers, one per consuming service.
const (
	PolicyConsumer = "policy"
	// ApproverConsumer reads verdicts: the approve ones are its work.
	ApproverConsumer = "approver"
	// RecorderConsumer reads everything, on AIRLOCK (the exchanges) and on
	// AIRLOCK_AUDIT (the chain): one consumer of that name on each.
	RecorderConsumer = "recorder"
)

// Buckets.
const (
	// BodiesBucket is the object store for request bodies larger than the
	// inline limit.
	BodiesBucket = "airlock-bodies"
	// GrantsBucket is the KV bucket of just-in-time grants.
	GrantsBucket = "airlock-grants"
	// PoliciesBucket is the KV bucket of pushed policy sets.
	PoliciesBucket = "airlock-policies"
	// ApprovalsBucket is the KV bucket of approvals, pending and decided,
	// and of the interactions already seen (replay protection).
	ApprovalsBucket = "airlock-approvals"
	// RecordingsBucket is the object store the recorder writes to when no
	// S3 store is configured (`airlock up`).
	RecordingsBucket = "airlock-recordings"
	// LeasesBucket holds leases: which replica of a service that must run
	// once (the recorder) is the active one. Keys expire after bus.LeaseTTL
	// without renewal.
	LeasesBucket = "airlock-leases"
)

// Request is the subject of a request event on a connection.
func Request(conn, id string) string { return RequestPrefix + Token(conn) + "." + id }

// Verdict is the subject of the policy verdict for a request.
func Verdict(id string) string { return VerdictPrefix + id }

// Approval is the subject of the approver's records of a held request:
// asked, a click refused.
func Approval(id string) string { return ApprovalPrefix + id }

// Decision is the subject of the decision on a held request.
func Decision(id string) string { return DecisionPrefix + id }

// IDFromDecision returns the request id of a decision subject.
func IDFromDecision(subj string) (string, bool) {
	return strings.CutPrefix(subj, DecisionPrefix)
}

// Response is the subject of the outcome of a request.
func Response(id string) string { return ResponsePrefix + id }

// Audit is the subject of the audit event of a request on a connection.
func Audit(conn string) string { return AuditPrefix + Token(conn) }

// IDFromVerdict returns the request id of a verdict subject.
func IDFromVerdict(subj string) (string, bool) {
	return strings.CutPrefix(subj, VerdictPrefix)
}

// Token makes s safe as a single subject token. Connection names are
// validated at config load to [a-z0-9_-]; this is a second line of defence so
// that a name can never add tokens or wildcards to a subject.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}
