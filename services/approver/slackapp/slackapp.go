// Package slackapp is everything Slack-specific the approver needs: it posts
// an interactive approval message for each held request, updates it once a
// human has decided, and turns the clicks that come back (over the HTTP
// interactivity endpoint or over Socket Mode) into Clicks for the approver
// to judge.
//
// It decides nothing itself: whether the clicker may decide, whether the
// approval is still pending and whether an interaction is a replay are the
// Judge's questions. What this package guarantees is that an HTTP
// interaction is signed by Slack (v0 signature, timestamp within five
// minutes) before anything in it is read, and that the text an agent
// controls (identity, path, summary, preview) cannot inject mentions or
// links into the message.
//
// Every Slack call goes through github.com/slack-go/slack.
package slackapp

import (
	"context"
	"time"
)

// Request is what an approval message shows: who asks, to do what, and why
// it is held.
type Request struct {
	// ApprovalID is the approval's id (a ULID). Every button's value carries
	// it, so it must not contain "|".
	ApprovalID string
	// RequestID is the held request's id.
	RequestID string
	// Identity is the agent's verified subject.
	Identity string
	// Groups are the agent's groups.
	Groups []string
	// Connection is the name of the connection the request goes to.
	Connection string
	// Action is the classified action, for example contents.write.
	Action string
	// Summary is one line, for example "contents.write on acme/prod-api
	// path src/main.go ref refs/heads/fix-1".
	Summary string
	// Method and Path are the request's HTTP method and canonical path.
	Method, Path string
	// Rule is the policy rule that asked for approval, Reason its reason.
	Rule, Reason string
	// Preview is an already-masked, size-bounded preview of the change; it
	// may be empty. At most MaxPreview characters of it are shown, with a
	// note when it was cut.
	Preview string
	// Windows are the "Approve for N minutes" choices, each offered as its
	// own button. Empty means only "Approve once".
	Windows []time.Duration
	// Expires is when the held request stops waiting; it is shown.
	Expires time.Time
}

// Outcome of a decision.
const (
	Approve = "approve"
	Deny    = "deny"
)

// Decision is what a human decided; Update shows it in place of the buttons.
type Decision struct {
	// Outcome is Approve or Deny.
	Outcome string
	// Window is how long an approval lasts; 0 means once.
	Window time.Duration
	// By is the Slack user id of the decider.
	By string
	// Reason is the deny reason.
	Reason string
	// At is when the decision was taken.
	At time.Time
}

// Click is an interaction the service must judge: is the user an approver,
// not the requester, is the approval still pending, is the interaction a
// replay?
type Click struct {
	// ApprovalID is the approval the button or the deny dialog belongs to.
	ApprovalID string
	// Outcome is Approve or Deny.
	Outcome string
	// Window is the chosen "approve for N minutes" window, 0 for once. It
	// comes from the button the user clicked; the judge should check it is
	// one of the windows it offered.
	Window time.Duration
	// UserID is the clicker's Slack user id.
	UserID string
	// UserName is the clicker's Slack user name, for logs only.
	UserName string
	// Reason is the deny reason typed in the dialog.
	Reason string
	// Channel and MessageTS locate the approval message.
	Channel   string
	MessageTS string
	// Key identifies this interaction for replay protection: the same
	// payload delivered twice (a Slack retry, a replayed request) has the
	// same Key, two different clicks have different Keys. It is a hex
	// SHA-256 of the interaction's type, team, user, approval id, outcome,
	// window and Slack's id for the interaction (the action's action_ts,
	// or the dialog's view id).
	Key string
}

// Judge is called for each click, within a deadline of about 2.5 seconds
// (Slack wants an answer within 3). A non-nil error refuses the click and
// its text is shown to the clicker in an ephemeral message, so it must be
// phrased for a human ("you are not an approver for this request") and
// must not carry the service's internals: log those and return a short
// generic error. A deadline that runs out is shown as a generic "could not
// confirm in time" message.
type Judge func(ctx context.Context, c Click) error
