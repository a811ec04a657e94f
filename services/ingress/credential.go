package ingress

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/airlockhq/airlock/pkg/config"
)

// credential is a connection's resolved service credential, ready to set.
type credential struct {
	header string
	value  string // the full header value; empty when not configured
	source string // where it comes from, for error messages (never the value)
	// echoes are the spellings of it taken out of responses (scrub.go).
	echoes [][]byte
}

// resolveCredential reads the credential from its env var or file. An
// unset source is not an error at start: the connection refuses requests
// with a clear reason until it is configured.
func resolveCredential(c config.Credential) (credential, error) {
	cr := credential{header: c.Header}
	var raw string
	switch {
	case c.Env != "":
		cr.source = "env " + c.Env
		raw = os.Getenv(c.Env)
	case c.File != "":
		cr.source = "file " + c.File
		data, err := os.ReadFile(c.File)
		if err != nil {
			return cr, fmt.Errorf("reading credential file %s: %w", c.File, err)
		}
		raw = strings.TrimRight(string(data), "\r\n")
	case c.Value != "":
		cr.source = "value"
		raw = c.Value
	default:
		cr.source = "none"
		return cr, nil
	}
	if raw == "" {
		return cr, nil
	}
	cr.echoes = echoes(raw, c.Scheme)
	switch c.Scheme {
	case "none":
		cr.value = raw
	case "Basic":
		cr.value = "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+raw))
	default:
		cr.value = c.Scheme + " " + raw
	}
	return cr, nil
}
