package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var connectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// reservedNames cannot be connection names: the ingress serves its own
// endpoints under them.
var reservedNames = []string{"healthz", "readyz", "metrics", "_airlock"}

// Validate reports every problem at once. It has no side effects: it reads
// no file and no environment.
func (c *Config) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.NATS.URL != "" {
		if u, err := url.Parse(c.NATS.URL); err != nil || u.Host == "" {
			add("$.nats.url", "not a URL: want nats://host:port")
		} else if u.User != nil {
			add("$.nats.url", "must not carry credentials: use nats.user and nats.password, or nats.creds")
		}
	}
	switch n := c.NATS; {
	case n.Creds != "" && (n.User != "" || n.Password != ""):
		add("$.nats.creds", "set either creds or user and password, not both")
	case n.User != "" && n.Password == "":
		add("$.nats.password", "missing for user %q (is its environment variable set?)", n.User)
	case n.User == "" && n.Password != "":
		add("$.nats.user", "missing: a password needs a user")
	}
	if t := c.NATS.TLS; (t.Cert == "") != (t.Key == "") {
		add("$.nats.tls", "set cert and key together")
	}
	if c.NATS.Replicas < 0 || c.NATS.Replicas > 5 {
		add("$.nats.replicas", "must be between 1 and 5")
	}
	if a := c.NATS.MaxAge; a != 0 && a < StreamDuplicateWindow {
		add("$.nats.max_age", "must be at least %s, the streams' duplicate window", StreamDuplicateWindow)
	}
	if a := c.NATS.AuditMaxAge; a != 0 && a < StreamDuplicateWindow {
		add("$.nats.audit_max_age", "must be at least %s, the streams' duplicate window", StreamDuplicateWindow)
	}
	if l := c.NATS.Embedded.Listen; c.NATS.URL == "" && l != "none" {
		checkListen(add, "$.nats.embedded.listen", l)
	}

	if len(c.Identity.Issuers) == 0 && !c.Identity.DevIssuer.Enabled {
		add("$.identity", "no issuer: list identity.issuers or enable identity.dev_issuer")
	}
	if c.Identity.ClockSkew < 0 || c.Identity.ClockSkew.Minutes() > 5 {
		add("$.identity.clock_skew", "must be between 0s and 5m")
	}
	for i, is := range c.Identity.Issuers {
		p := fmt.Sprintf("$.identity.issuers[%d]", i)
		u, err := url.Parse(is.URL)
		switch {
		case is.URL == "":
			add(p+".url", "missing")
		case err != nil || u.Host == "":
			add(p+".url", "not a URL")
		case u.Scheme != "https" && !isLoopback(u.Hostname()):
			add(p+".url", "must be https (plain http only on loopback)")
		}
		if len(is.Audiences) == 0 {
			add(p+".audiences", "missing: a token must be bound to an audience")
		}
		for j, alg := range is.Algorithms {
			if !slices.Contains(asymmetricAlgs, alg) {
				add(fmt.Sprintf("%s.algorithms[%d]", p, j), "%q is not an accepted algorithm (want one of %s)", alg, strings.Join(asymmetricAlgs, ", "))
			}
		}
	}
	if c.Identity.DevIssuer.Enabled {
		checkListen(add, "$.identity.dev_issuer.listen", c.Identity.DevIssuer.Listen)
		if host, _, err := net.SplitHostPort(c.Identity.DevIssuer.Listen); err == nil && !isLoopback(host) {
			add("$.identity.dev_issuer.listen", "the dev issuer listens on loopback only")
		}
	}

	checkListen(add, "$.ingress.listen", c.Ingress.Listen)
	if c.Ingress.InspectLimit < 0 || c.Ingress.InspectLimit > 64<<20 {
		add("$.ingress.inspect_limit", "must be between 0 and 64MiB")
	}
	if c.Ingress.InlineLimit < 0 || c.Ingress.InlineLimit > 1<<20 {
		add("$.ingress.inline_limit", "must be between 0 and 1MiB")
	}
	if c.Ingress.DecisionTimeout <= 0 {
		add("$.ingress.decision_timeout", "must be positive")
	}
	if c.Ingress.ReadHeaderTimeout < 0 {
		add("$.ingress.read_header_timeout", "must be positive")
	}
	if c.Ingress.BodyTimeout < 0 {
		add("$.ingress.body_timeout", "must be positive")
	}

	if len(c.Connections) == 0 {
		add("$.connections", "no connection: nothing could be reached")
	}
	seen := map[string]bool{}
	hosts := map[string]bool{}
	for i, cn := range c.Connections {
		p := fmt.Sprintf("$.connections[%d]", i)
		switch {
		case !connectionName.MatchString(cn.Name):
			add(p+".name", "%q: want lowercase letters, digits, - and _", cn.Name)
		case slices.Contains(reservedNames, cn.Name):
			add(p+".name", "%q is reserved", cn.Name)
		case seen[cn.Name]:
			add(p+".name", "duplicate connection %q", cn.Name)
		}
		seen[cn.Name] = true
		if !slices.Contains([]string{TypeGitHub, TypeGit, TypeHTTP, TypeMCP}, cn.Type) {
			add(p+".type", "%q: want github, git, http or mcp", cn.Type)
		}
		if cn.Upstream != BuiltinEcho {
			u, err := url.Parse(cn.Upstream)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				add(p+".upstream", "want an http(s) URL or %s", BuiltinEcho)
			} else if u.User != nil {
				add(p+".upstream", "must not carry credentials: use credential")
			}
		}
		for j, h := range cn.Hosts {
			h = strings.ToLower(h)
			if hosts[h] {
				add(fmt.Sprintf("%s.hosts[%d]", p, j), "host %q routes to two connections", h)
			}
			hosts[h] = true
		}
		cr := cn.Credential
		if n := btoi(cr.Env != "") + btoi(cr.File != "") + btoi(cr.Value != ""); n > 1 {
			add(p+".credential", "set one of env, file or value")
		}
		if !slices.Contains([]string{"Bearer", "token", "Basic", "none"}, cr.Scheme) {
			add(p+".credential.scheme", "%q: want Bearer, token, Basic or none", cr.Scheme)
		}
		if cn.HoldTimeout < 0 {
			add(p+".hold_timeout", "must be positive")
		}
		if cn.UpstreamTimeout < 0 {
			add(p+".upstream_timeout", "must be positive")
		}
	}
	if len(c.Policies) == 0 {
		add("$.policies", "no policy file: every request would be denied")
	}

	for _, l := range []struct{ path, addr string }{
		{"$.admin.listen", c.Admin.Listen},
		{"$.admin.ingress", c.Admin.Ingress},
		{"$.admin.policy", c.Admin.Policy},
		{"$.admin.masker", c.Admin.Masker},
		{"$.admin.approver", c.Admin.Approver},
		{"$.admin.recorder", c.Admin.Recorder},
	} {
		if l.addr != ListenNone {
			checkListen(add, l.path, l.addr)
		}
	}
	if m := c.Masking; strings.ContainsAny(m.Placeholder, `"\`) {
		add("$.masking.placeholder", "may not hold a quote or a backslash: a masked JSON document must stay valid")
	}
	if c.Masking.Timeout < 0 {
		add("$.masking.timeout", "must be positive")
	}
	if l := c.Masking.WholeLimit; l < 0 || l > MaxMaskWholeLimit {
		add("$.masking.whole_limit", "must be between 0 and 7MiB")
	}
	for i, w := range c.Approvals.Windows {
		if w < time.Minute || w > 24*time.Hour {
			add(fmt.Sprintf("$.approvals.windows[%d]", i), "must be between 1m and 24h")
		}
	}
	if c.Approvals.GrantTTL < 0 {
		add("$.approvals.grant_ttl", "must be positive")
	}
	if sl := c.Approvals.Slack; sl.Enabled() {
		if sl.Channel == "" {
			add("$.approvals.slack.channel", "missing: where are approval messages posted?")
		}
		if sl.SigningSecret == "" && sl.AppToken == "" {
			add("$.approvals.slack", "set signing_secret (HTTP interactivity) or app_token (Socket Mode): clicks must reach Airlock")
		}
		if sl.SigningSecret != "" && sl.Listen != ListenNone {
			checkListen(add, "$.approvals.slack.listen", sl.Listen)
		}
	}
	if s3 := c.Recorder.S3; s3.Enabled() {
		if s3.Bucket == "" {
			add("$.recorder.s3.bucket", "missing")
		}
		if s3.AccessKey == "" || s3.SecretKey == "" {
			add("$.recorder.s3", "access_key and secret_key are required (from the environment)")
		}
		if s3.CA != "" && s3.Insecure {
			add("$.recorder.s3.ca", "set with insecure: true: a CA is for TLS; drop one of them")
		}
	}
	if c.Recorder.RetentionDays < 0 {
		add("$.recorder.retention_days", "must be 0 (keep) or more")
	}
	for i, cn := range c.Connections {
		if cn.RetentionDays < 0 {
			add(fmt.Sprintf("$.connections[%d].retention_days", i), "must be 0 (keep) or more")
		}
	}
	// The agents' port never serves the operators' endpoints.
	if sameListen(c.Admin.Listen, c.Ingress.Listen) {
		add("$.admin.listen", "%q is the ingress's listen address", c.Admin.Listen)
	}
	if sameListen(c.Admin.Ingress, c.Ingress.Listen) {
		add("$.admin.ingress", "%q is the ingress's listen address", c.Admin.Ingress)
	}
	return ps
}

// asymmetricAlgs are the signing algorithms a token may use. Symmetric
// (HS*) and "none" are never accepted: the verifier holds no shared secret.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

func checkListen(add func(string, string, ...any), path, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		add(path, "%q: want host:port", addr)
	}
}

// sameListen reports whether two listeners would take the same port. Port 0
// (any free port) never clashes.
func sameListen(a, b string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != "0" && a == b
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
