package rules

import (
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Every rule's cost is bounded. At load, CEL's cost estimator computes a
// rule's worst case from bounds on the input's sizes. A rule whose worst
// case is within the cost limit runs as it is; any other runs with
// cel.CostLimit, counting its cost as it goes (several times slower), and
// fails when it goes over. So simple rules stay fast, and a comprehension
// over every header, say, cannot run away.

// DefaultMaxBody is the default bound on request.body for cost estimates:
// the ingress's default inspect limit.
const DefaultMaxBody = 1 << 20

// Bounds on the rest of the input for cost estimates.
const (
	// maxString bounds every string but the body: Go's HTTP server reads
	// at most 1 MiB of request line and headers (http.DefaultMaxHeaderBytes),
	// and the token the identity comes from is one header.
	maxString = 1 << 20
	// maxEntries bounds headers, query parameters and groups: each takes at
	// least 4 bytes of that 1 MiB.
	maxEntries = maxString / 4
)

// Cost factors of the helpers, as CEL prices its own string functions.
const (
	// globPatternCostFactor prices a pattern's characters as CEL prices a
	// regular expression's: matching may revisit the path once for each.
	globPatternCostFactor = common.RegexStringLengthCostFactor
)

// estimator gives CEL's cost estimator the input's bounds and the helpers'
// costs.
type estimator struct{ maxBody uint64 }

// EstimateSize implements checker.CostEstimator.
func (e estimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	switch path[0] {
	case varRequest, varIdentity, varConnection, varOperation, varGitHub, varGraphQL, varGit, varMCP:
	default:
		return nil
	}
	var limit uint64
	switch n.Type().Kind() {
	case types.StringKind:
		limit = maxString
		if len(path) == 2 && path[0] == varRequest && path[1] == "body" {
			limit = e.maxBody
		}
	case types.ListKind, types.MapKind:
		limit = maxEntries
	default:
		return nil
	}
	return &checker.SizeEstimate{Min: 0, Max: limit}
}

// EstimateCallCost implements checker.CostEstimator.
func (e estimator) EstimateCallCost(_, overloadID string, _ *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	switch overloadID {
	case overloadGlob:
		if len(args) != 2 {
			return nil
		}
		path := e.size(args[0]).Add(checker.FixedSizeEstimate(1)).MultiplyByCostFactor(common.StringTraversalCostFactor)
		pattern := e.size(args[1]).Add(checker.FixedSizeEstimate(1)).MultiplyByCostFactor(globPatternCostFactor)
		return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1, Max: mulSat(path.Max, pattern.Max)}}
	case overloadInGroup:
		// A scan of the groups, as `name in identity.groups` costs.
		return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1, Max: maxEntries}}
	}
	return nil
}

func (e estimator) size(n checker.AstNode) checker.SizeEstimate {
	if s := n.ComputedSize(); s != nil {
		return *s
	}
	if s := e.EstimateSize(n); s != nil {
		return *s
	}
	return checker.UnknownSizeEstimate()
}

// CallCost implements interpreter.ActualCostEstimator: what the helpers
// cost at run time, on the same scale as their estimates.
func (e estimator) CallCost(_, overloadID string, args []ref.Val, _ ref.Val) *uint64 {
	var cost uint64
	switch overloadID {
	case overloadGlob:
		if len(args) != 2 {
			return nil
		}
		path, _ := args[0].(types.String)
		pattern, _ := args[1].(types.String)
		cost = mulSat(costOf(len(path)+1, common.StringTraversalCostFactor), costOf(len(pattern)+1, globPatternCostFactor))
	case overloadInGroup:
		if len(args) != 2 {
			return nil
		}
		cost = 1
		if id, ok := args[0].Value().(*Identity); ok {
			cost += uint64(len(id.Groups))
		}
	default:
		return nil
	}
	return &cost
}

// costOf is n × factor, rounded up.
func costOf(n int, factor float64) uint64 {
	c := float64(n) * factor
	u := uint64(c)
	if float64(u) < c {
		u++
	}
	return u
}

// mulSat multiplies without overflowing.
func mulSat(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}
