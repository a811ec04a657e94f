// Package rules compiles Airlock's policy files, lists of CEL rules in
// YAML, and evaluates them against requests.
//
// A policy file holds one list:
//
//	rules:
//	  - name: allow-reads          # unique across all files: [a-z0-9][a-z0-9._-]*
//	    effect: allow              # allow, deny or approve
//	    when: request.method in ["GET", "HEAD"]
//	    reason: agents may read    # optional, shown to the agent on deny
//	    shadow: false              # optional: evaluated and reported, never enforced
//	    mask_secrets: false        # optional, allow only: forward the body masked
//
// An expression sees three typed variables, so that a misspelt field fails
// when the file is loaded, not when a request arrives:
//
//	request     method, path (canonical, see CanonicalPath), raw_path, host,
//	            query (map: first value per key), headers (map: lower-case
//	            names, values joined by ", "), body (string), body_size (int),
//	            body_truncated (bool), secrets (list of the rule ids of the
//	            secrets the masker found in the outgoing body or push)
//	identity    sub, iss, email, groups (list of strings)
//	connection  name, type (github, git, http, mcp)
//
// and, beyond standard CEL and its optional values, two functions:
//
//	glob(path, pattern)         path glob, see Glob
//	identity.in_group(name)     same as name in identity.groups
//
// in_group is a member function of identity rather than a global
// in_group(identity, name): it reads as a sentence, and the checker rejects
// it on anything but an identity. A header or parameter that may be absent
// is read with request.headers[?"x-name"].orValue(""): indexing a map with
// a missing key, request.headers["x-name"], is an evaluation error.
//
// A set decides by effect, not by order: any matching deny wins, else any
// approve, else any allow; when nothing matches the request is denied. A
// rule that fails to evaluate (a missing map key, the cost limit) denies the
// request and names itself, ahead of any match: the set fails closed.
// Shadow rules never change the effect, failing or not; the ones that match
// are reported. Order only chooses which rule a verdict names: the first,
// in file order, of the winning effect.
//
// Every rule's cost is bounded (see Compile), and evaluation is cheap: the
// common shapes of condition (a method, a path glob, a group) run as Go,
// not CEL (see guard.go), so a pack of a few hundred rules takes
// microseconds.
package rules

import (
	"fmt"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/airlockhq/airlock/pkg/event"
)

// Effects a rule can have; the same strings as in verdicts.
const (
	EffectAllow   = event.EffectAllow
	EffectDeny    = event.EffectDeny
	EffectApprove = event.EffectApprove
)

// ReasonDefaultDeny is the reason of a verdict when no rule matched.
const ReasonDefaultDeny = "no rule allows this request (default deny)"

// Rule describes one compiled rule.
type Rule struct {
	// Name is unique across the set.
	Name string
	// Effect is allow, deny or approve.
	Effect string
	// When is the CEL expression.
	When string
	// Reason is the text written in the file, possibly empty.
	Reason string
	// Shadow rules are evaluated and reported, never enforced.
	Shadow bool
	// File and Line say where the rule is defined.
	File string
	Line int
	// MaskSecrets makes an allow forward the request body with the
	// secrets the masker found masked.
	MaskSecrets bool
}

// rule is a Rule with its program.
type rule struct {
	Rule
	program
	// reason is what a verdict decided by this rule says: the rule's reason,
	// or a sentence naming the rule when it has none.
	reason string
}

func newRule(p program, r Rule) rule {
	reason := r.Reason
	if reason == "" {
		switch r.Effect {
		case EffectAllow:
			reason = fmt.Sprintf("allowed by rule %q", r.Name)
		case EffectApprove:
			reason = fmt.Sprintf("approval required by rule %q", r.Name)
		default:
			reason = fmt.Sprintf("denied by rule %q", r.Name)
		}
	}
	return rule{Rule: r, program: p, reason: reason}
}

// Set is a compiled, immutable rule set, safe for concurrent use.
type Set struct {
	rules []rule
}

// Len returns the number of rules in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Rules describes the set's rules in file order.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	out := make([]Rule, len(s.rules))
	for i := range s.rules {
		out[i] = s.rules[i].Rule
	}
	return out
}

// Result is the outcome of evaluating a set against one request.
type Result struct {
	// Effect is allow, deny or approve.
	Effect string
	// Rule names the deciding rule; empty for the default deny.
	Rule string
	// Reason says why, for the agent and the audit record.
	Reason string
	// Shadow lists the shadow rules that matched, in file order.
	Shadow []event.RuleMatch
	// MaskSecrets is the deciding allow rule's mask_secrets.
	MaskSecrets bool
	// Errors lists every rule that failed to evaluate, shadow rules
	// included, in file order. The first enforced one decided the result.
	Errors []RuleError
}

// RuleError is a rule that failed to evaluate.
type RuleError struct {
	// Rule is the rule's name.
	Rule string
	// Shadow is true when the rule is in shadow mode: its failure was
	// reported, not enforced.
	Shadow bool
	// Err is what went wrong.
	Err error
}

// Evaluate runs every rule of the set against in and decides. A nil set
// denies everything. in is not modified.
func (s *Set) Evaluate(in *Input) Result {
	var rules []rule
	if s != nil {
		rules = s.rules
	}
	act := newActivation(in)
	defer act.close()

	const none = -1
	first := [3]int{none, none, none} // first match per effect: deny, approve, allow
	failed := none
	var res Result
	for i := range rules {
		r := &rules[i]
		matched, err := r.match(act)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: r.Name, Shadow: r.Shadow, Err: err})
			if !r.Shadow && failed == none {
				failed = i
			}
			continue
		}
		if !matched {
			continue
		}
		if r.Shadow {
			res.Shadow = append(res.Shadow, event.RuleMatch{Rule: r.Name, Effect: r.Effect})
			continue
		}
		if k := rank(r.Effect); first[k] == none {
			first[k] = i
		}
	}
	switch {
	case failed != none:
		res.Effect, res.Rule = EffectDeny, rules[failed].Name
		res.Reason = "rule error: " + res.Errors[firstEnforced(res.Errors)].Err.Error()
	case first[0] != none || first[1] != none || first[2] != none:
		for _, i := range first {
			if i != none {
				r := &rules[i]
				res.Effect, res.Rule, res.Reason = r.Effect, r.Name, r.reason
				res.MaskSecrets = r.MaskSecrets
				break
			}
		}
	default:
		res.Effect, res.Reason = EffectDeny, ReasonDefaultDeny
	}
	return res
}

// match evaluates the rule: its guard, then, unless the guard is the whole
// expression, its program.
func (r *rule) match(act *activation) (bool, error) {
	if !r.guard.admits(act) {
		return false, nil
	}
	if r.guard.exact {
		return true, nil
	}
	var out ref.Val
	var err error
	if r.tracked {
		// A program that tracks its cost needs a frame of its own.
		out, _, err = r.prg.Eval(act.cel())
	} else {
		out, _, err = r.prg.Eval(act.frame())
	}
	if err != nil {
		return false, err
	}
	if out.Type() != types.BoolType {
		return false, fmt.Errorf("result is %s, not bool", out.Type().TypeName())
	}
	return out == types.True, nil
}

// rank orders effects by precedence: deny, approve, allow.
func rank(effect string) int {
	switch effect {
	case EffectDeny:
		return 0
	case EffectApprove:
		return 1
	default:
		return 2
	}
}

func firstEnforced(errs []RuleError) int {
	for i, e := range errs {
		if !e.Shadow {
			return i
		}
	}
	return 0
}

// activation holds one evaluation's copy of the input. Guards read it
// directly. For programs, the first that runs converts its fields to CEL
// values (see values) and adapts the three variables, so that no rule
// converts them again; programs that do not count their cost share one
// frame.
type activation struct {
	req  Request
	id   Identity
	conn Connection
	// The classification variables are read by reflection: rules name
	// them less often than the request, and they are mostly strings.
	op  Operation
	gh  GitHub
	gql GraphQL
	git Git
	mcp MCP
	// classVals holds them adapted, in the order of classVars.
	classVals [5]ref.Val

	ready                  bool
	vals                   values
	reqVal, idVal, connVal ref.Val
	fr                     *interpreter.ExecutionFrame
}

func newActivation(in *Input) *activation {
	return &activation{req: in.Request, id: in.Identity, conn: in.Connection,
		op: in.Operation, gh: in.GitHub, gql: in.GraphQL, git: in.Git, mcp: in.MCP}
}

// cel readies the activation for programs and returns it.
func (a *activation) cel() *activation {
	if a.ready {
		return a
	}
	a.ready = true
	ad := adapter()
	a.req.vals, a.id.vals, a.conn.vals = &a.vals, &a.vals, &a.vals
	a.vals = newValues(ad, &a.req, &a.id, &a.conn)
	a.reqVal = ad.NativeToValue(&a.req)
	a.idVal = ad.NativeToValue(&a.id)
	a.connVal = ad.NativeToValue(&a.conn)
	return a
}

// frame returns the shared frame.
func (a *activation) frame() *interpreter.ExecutionFrame {
	if a.fr == nil {
		// NewExecutionFrame fails only for an input that is not an
		// activation.
		a.fr, _ = interpreter.NewExecutionFrame(a.cel())
	}
	return a.fr
}

// close returns the frame to its pool.
func (a *activation) close() {
	if a.fr != nil {
		a.fr.Close()
	}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varRequest:
		return a.reqVal, true
	case varIdentity:
		return a.idVal, true
	case varConnection:
		return a.connVal, true
	case varOperation:
		return a.class(0, &a.op), true
	case varGitHub:
		return a.class(1, &a.gh), true
	case varGraphQL:
		return a.class(2, &a.gql), true
	case varGit:
		return a.class(3, &a.git), true
	case varMCP:
		return a.class(4, &a.mcp), true
	}
	return nil, false
}

// class adapts classification variable i on first use: most rule sets
// name few of them, and an evaluation belongs to one goroutine.
func (a *activation) class(i int, v any) ref.Val {
	if a.classVals[i] == nil {
		a.classVals[i] = adapter().NativeToValue(v)
	}
	return a.classVals[i]
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

var _ interpreter.Activation = (*activation)(nil)
