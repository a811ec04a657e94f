package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ErrInvalid wraps every validation failure, so that callers can tell a bad
// file from a missing one.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the YAML path of the offending field ($.connections[0].name).
	Path string
	// Line is the line in the file, 0 when unknown.
	Line int
	// Msg says what is wrong.
	Msg string
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Msg)
}

// EnvPath is the environment variable that names the configuration file
// when no --config flag does.
const EnvPath = "AIRLOCK_CONFIG"

// PathFromEnv returns $AIRLOCK_CONFIG, or def when it is unset.
func PathFromEnv(def string) string {
	if p := os.Getenv(EnvPath); p != "" {
		return p
	}
	return def
}

// Load reads, expands, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("resolving config dir: %w", err)
	}
	cfg.dir = abs
	return cfg, nil
}

// Parse decodes a configuration from YAML, expanding ${VAR} and
// ${VAR:-default} from the environment first. Unknown fields are errors.
func Parse(data []byte) (cfg *Config, err error) {
	// The YAML library panics on some malformed input (found by fuzzing):
	// a bad file is an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("%w: malformed YAML", ErrInvalid)
		}
	}()
	return parse(data)
}

func parse(data []byte) (*Config, error) {
	expanded := ExpandEnv(string(data))
	var cfg Config
	if err := yaml.UnmarshalWithOptions([]byte(expanded), &cfg, yaml.Strict()); err != nil {
		// Without the source excerpt: an expanded secret must not end up in
		// an error message.
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yaml.FormatError(err, false, false))
	}
	cfg.file, _ = parser.ParseBytes([]byte(expanded), 0)
	cfg.ApplyDefaults()
	problems := append(Problems(cfg.Validate()), sourceProblems(data)...)
	if len(problems) == 0 {
		return &cfg, nil
	}
	for i := range problems {
		if problems[i].Line == 0 {
			problems[i].Line = lineOf(cfg.file, problems[i].Path)
		}
	}
	// In the order of the file; those without a line last.
	slices.SortStableFunc(problems, func(a, b Problem) int { return cmp.Compare(sortLine(a), sortLine(b)) })
	return nil, fmt.Errorf("%w:\n%w", ErrInvalid, problems)
}

func sortLine(p Problem) int {
	if p.Line == 0 {
		return math.MaxInt
	}
	return p.Line
}

// Problems are every problem of a configuration. A load error wraps them:
// errors.As(err, &problems) lists them for a caller that reports them one
// by one (airlock config check).
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// sourceProblems are the checks that need the file as written, before
// expansion: a secret must come from the environment, not the file.
func sourceProblems(data []byte) Problems {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil // the expanded text parsed; the difference is an expansion
	}
	const path = "$.nats.password"
	p, err := yaml.PathString(path)
	if err != nil {
		return nil
	}
	node, err := p.FilterFile(file)
	if err != nil || node == nil {
		return nil
	}
	if s, ok := node.(*ast.StringNode); ok && s.Value == "" {
		return nil
	}
	if strings.Contains(node.String(), "${") {
		return nil
	}
	line := 0
	if tok := node.GetToken(); tok != nil {
		line = tok.Position.Line
	}
	return Problems{{Path: path, Line: line,
		Msg: "must come from the environment (password: ${AIRLOCK_NATS_PASSWORD}), never be written in the file"}}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv replaces ${VAR} with the variable's value and ${VAR:-default}
// with the value or, when unset or empty, the default. "$$" is a literal "$".
func ExpandEnv(s string) string {
	s = strings.ReplaceAll(s, "$${", "\x00{")
	s = envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v := os.Getenv(sub[1]); v != "" || sub[2] == "" {
			return v
		}
		return sub[3]
	})
	return strings.ReplaceAll(s, "\x00{", "${")
}

// lineOf finds the line of a YAML path in the parsed file, walking up to
// the nearest parent that exists (a missing field is reported on its
// parent's line).
func lineOf(file *ast.File, path string) int {
	if file == nil {
		return 0
	}
	for path != "" && path != "$" {
		if p, err := yaml.PathString(path); err == nil {
			if node, err := p.FilterFile(file); err == nil && node != nil {
				if tok := node.GetToken(); tok != nil {
					return tok.Position.Line
				}
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
