package rules

import (
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// Request is the CEL variable `request`: the HTTP request as policy sees
// it. Field names in CEL are the `cel` tags.
type Request struct {
	// Method is the HTTP method, upper case as sent (GET, POST, …).
	Method string `cel:"method"`
	// Path is the canonical path (see CanonicalPath): what rules should
	// match on, because it cannot be bypassed by spelling.
	Path string `cel:"path"`
	// RawPath is the path below the connection prefix as received, still
	// escaped.
	RawPath string `cel:"raw_path"`
	// Host is the Host header the agent sent.
	Host string `cel:"host"`
	// Query holds the first value of each query parameter.
	Query map[string]string `cel:"query"`
	// Headers holds the request headers with lower-case names, multiple
	// values joined by ", ". Credentials (Authorization, Cookie) are never
	// present: the ingress strips them.
	Headers map[string]string `cel:"headers"`
	// Body is the inspected body (at most the inspect limit), as a string.
	Body string `cel:"body"`
	// BodySize is the number of body bytes inspected.
	BodySize int64 `cel:"body_size"`
	// BodyTruncated is true when the body was larger than the inspect
	// limit, so Body holds only its beginning.
	BodyTruncated bool `cel:"body_truncated"`
	// Secrets are the rule ids of the secrets the masker found in the
	// outgoing body, or in the files a git push adds, one per finding:
	// `size(request.secrets) > 0` refuses a secret on its way out.
	Secrets []string `cel:"secrets"`

	// vals holds the fields as CEL values during an evaluation.
	vals *values
}

// Identity is the CEL variable `identity`: who is calling, from the
// verified OIDC token.
type Identity struct {
	// Subject is the token's "sub" claim.
	Subject string `cel:"sub"`
	// Issuer is the token's "iss" claim.
	Issuer string `cel:"iss"`
	// Email is the "email" claim, empty when absent.
	Email string `cel:"email"`
	// Groups come from the issuer's groups claim.
	Groups []string `cel:"groups"`

	// vals holds the fields as CEL values during an evaluation.
	vals *values
}

// Connection is the CEL variable `connection`: the configured upstream the
// request was routed to.
type Connection struct {
	// Name is the connection's name (its path prefix).
	Name string `cel:"name"`
	// Type is github, git, http or mcp.
	Type string `cel:"type"`

	// vals holds the fields as CEL values during an evaluation.
	vals *values
}

// CEL names of the variables and of the native types behind them.
const (
	varRequest    = "request"
	varIdentity   = "identity"
	varConnection = "connection"

	typeRequest    = "rules.Request"
	typeIdentity   = "rules.Identity"
	typeConnection = "rules.Connection"

	overloadGlob    = "glob_string_string"
	overloadInGroup = "identity_in_group_string"
)

// newEnv is the one CEL environment every rule compiles in. It is
// immutable, so it is built once and shared.
var newEnv = sync.OnceValues(func() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(
			ext.ParseStructTags(true),
			reflect.TypeFor[Request](), reflect.TypeFor[Identity](), reflect.TypeFor[Connection](),
			reflect.TypeFor[Operation](), reflect.TypeFor[GitHub](), reflect.TypeFor[GraphQL](),
			reflect.TypeFor[Git](), reflect.TypeFor[RefUpdate](), reflect.TypeFor[MCP](),
		),
		cel.Variable(varRequest, cel.ObjectType(typeRequest)),
		cel.Variable(varIdentity, cel.ObjectType(typeIdentity)),
		cel.Variable(varConnection, cel.ObjectType(typeConnection)),
		cel.Variable(varOperation, cel.ObjectType(typeOperation)),
		cel.Variable(varGitHub, cel.ObjectType(typeGitHub)),
		cel.Variable(varGraphQL, cel.ObjectType(typeGraphQL)),
		cel.Variable(varGit, cel.ObjectType(typeGit)),
		cel.Variable(varMCP, cel.ObjectType(typeMCP)),
		cel.Function("glob",
			cel.Overload(overloadGlob,
				[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(globBinding),
			),
		),
		cel.Function("in_group",
			cel.MemberOverload(overloadInGroup,
				[]*cel.Type{cel.ObjectType(typeIdentity), cel.StringType}, cel.BoolType,
				cel.BinaryBinding(inGroupBinding),
			),
		),
		cel.OptionalTypes(),
		cel.ParserExpressionSizeLimit(maxExpressionSize),
		preconverted,
	)
	if err != nil {
		return nil, fmt.Errorf("creating cel environment: %w", err)
	}
	return env, nil
})

// adapter converts Go values to CEL values in the shared environment.
func adapter() types.Adapter {
	env, err := newEnv()
	if err != nil {
		// No program was compiled either: nothing will be converted.
		return types.DefaultTypeAdapter
	}
	return env.CELTypeAdapter()
}

// maxExpressionSize bounds the length of one rule's expression in code
// points; a rule longer than this is a mistake, not a policy.
const maxExpressionSize = 16 << 10

// globBinding implements glob(path, pattern).
func globBinding(path, pattern ref.Val) ref.Val {
	p, ok1 := path.(types.String)
	g, ok2 := pattern.(types.String)
	if !ok1 || !ok2 {
		return types.NoSuchOverloadErr()
	}
	return types.Bool(Glob(string(p), string(g)))
}

// inGroupBinding implements identity.in_group(name).
func inGroupBinding(identity, group ref.Val) ref.Val {
	g, ok := group.(types.String)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	var groups []string
	switch id := identity.Value().(type) {
	case *Identity:
		groups = id.Groups
	case Identity:
		groups = id.Groups
	default:
		return types.NoSuchOverloadErr()
	}
	return types.Bool(slices.Contains(groups, string(g)))
}

// values are the fields of the three variables converted to CEL values,
// once per evaluation rather than by reflection at every field selection
// of every rule: most of the cost of evaluating a simple rule otherwise.
type values struct {
	method, path, rawPath, host, query, headers, body, bodySize, bodyTruncated, secrets ref.Val
	sub, iss, email, groups                                                             ref.Val
	connName, connType                                                                  ref.Val
}

// newValues converts the fields of the three variables.
func newValues(a types.Adapter, r *Request, id *Identity, c *Connection) values {
	return values{
		method:        types.String(r.Method),
		path:          types.String(r.Path),
		rawPath:       types.String(r.RawPath),
		host:          types.String(r.Host),
		query:         types.NewStringStringMap(a, r.Query),
		headers:       types.NewStringStringMap(a, r.Headers),
		body:          types.String(r.Body),
		bodySize:      types.Int(r.BodySize),
		bodyTruncated: types.Bool(r.BodyTruncated),
		secrets:       types.NewStringList(a, r.Secrets),
		sub:           types.String(id.Subject),
		iss:           types.String(id.Issuer),
		email:         types.String(id.Email),
		groups:        types.NewStringList(a, id.Groups),
		connName:      types.String(c.Name),
		connType:      types.String(c.Type),
	}
}

// getters read each CEL field of each variable's type from values. Every
// `cel` tag must have one (TestGettersCoverFields).
var getters = map[string]map[string]func(*values) ref.Val{
	typeRequest: {
		"method":         func(v *values) ref.Val { return v.method },
		"path":           func(v *values) ref.Val { return v.path },
		"raw_path":       func(v *values) ref.Val { return v.rawPath },
		"host":           func(v *values) ref.Val { return v.host },
		"query":          func(v *values) ref.Val { return v.query },
		"headers":        func(v *values) ref.Val { return v.headers },
		"body":           func(v *values) ref.Val { return v.body },
		"body_size":      func(v *values) ref.Val { return v.bodySize },
		"body_truncated": func(v *values) ref.Val { return v.bodyTruncated },
		"secrets":        func(v *values) ref.Val { return v.secrets },
	},
	typeIdentity: {
		"sub":    func(v *values) ref.Val { return v.sub },
		"iss":    func(v *values) ref.Val { return v.iss },
		"email":  func(v *values) ref.Val { return v.email },
		"groups": func(v *values) ref.Val { return v.groups },
	},
	typeConnection: {
		"name": func(v *values) ref.Val { return v.connName },
		"type": func(v *values) ref.Val { return v.connType },
	},
}

// valuesOf returns the converted fields of a variable, or nil for a value
// that is not being evaluated (one a rule built itself).
func valuesOf(obj any) *values {
	switch o := obj.(type) {
	case *Request:
		return o.vals
	case *Identity:
		return o.vals
	case *Connection:
		return o.vals
	}
	return nil
}

// preconverted makes field selection on the three variables read values:
// it wraps the environment's type provider (which ext.NativeTypes built
// from the Go types) and replaces the reflective accessor of each field
// with one that reads the preconverted value when there is one.
func preconverted(env *cel.Env) (*cel.Env, error) {
	return cel.CustomTypeProvider(fieldsProvider{env.CELTypeProvider()})(env)
}

type fieldsProvider struct{ types.Provider }

// FindStructFieldType implements types.Provider.
func (p fieldsProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	ft, ok := p.Provider.FindStructFieldType(structType, fieldName)
	if !ok {
		return nil, false
	}
	get := getters[structType][fieldName]
	if get == nil {
		return ft, true
	}
	slow := ft.GetFrom
	fast := *ft
	fast.GetFrom = func(obj any) (any, error) {
		if v := valuesOf(obj); v != nil {
			return get(v), nil
		}
		return slow(obj)
	}
	return &fast, true
}

var _ types.Provider = fieldsProvider{}
