package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	cfg.ApplyDefaults()
	problems := cfg.Validate()
	if len(problems) == 0 {
		return &cfg, nil
	}
	file, _ := parser.ParseBytes([]byte(expanded), 0)
	errs := make([]error, 0, len(problems))
	for _, p := range problems {
		p.Line = lineOf(file, p.Path)
		errs = append(errs, p)
	}
	return nil, fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(errs...))
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
