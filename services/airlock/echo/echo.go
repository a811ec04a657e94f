// Package echo is the built-in upstream of the demo connection: it answers
// every request with a JSON description of what reached it, so that the
// tour shows the gateway's work (the agent's token gone, the service
// credential injected) without network access. It never echoes a
// credential's value.
package echo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Reply is what the echo upstream answers.
type Reply struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query,omitempty"`
	Headers map[string]string `json:"headers"`
	// Authorization says what credential arrived, redacted.
	Authorization string `json:"authorization"`
	BodyBytes     int64  `json:"body_bytes"`
}

// LeakyPath is the one path where the echo upstream plays a misconfigured
// service: it answers with made-up credentials, so that the tour shows the
// masker at work.
const LeakyPath = "/leaky/settings.json"

// leaky is what LeakyPath answers. The values are made up, shaped like the
// real thing so that the detectors recognise them.
const leaky = `{
  "service": "billing-api",
  "region": "eu-west-1",
  "aws_access_key_id": "AKIAZ4MBQ7X2RTLQWNCE",
  "github_token": "ghp_8Kq2ZxV7mN4pL9sT3wR6yB1cF5hJ0dGaE2uQ",
  "database": {"host": "db.internal", "password": "correct-horse-battery-staple"},
  "note": "agents should never see the values above"
}
`

// Handler serves the echo upstream.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == LeakyPath {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, leaky)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		rep := Reply{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Headers: map[string]string{}, BodyBytes: n}
		for k, v := range r.Header {
			switch k {
			case "Authorization", "Cookie", "Proxy-Authorization":
			default:
				rep.Headers[k] = strings.Join(v, ", ")
			}
		}
		rep.Authorization = redact(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
}

func redact(h string) string {
	if h == "" {
		return "none"
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return fmt.Sprintf("[redacted, %d chars]", len(h))
	}
	return fmt.Sprintf("%s [redacted, %d chars]", scheme, len(cred))
}
