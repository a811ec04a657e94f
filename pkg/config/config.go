// Package config loads and validates airlock.yaml, the one file that every
// Airlock service reads. Secrets come in through ${ENV} expansion; every
// problem is reported at once, each with the line it is on.
package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Defaults, in one place.
const (
	DefaultIngressListen   = "127.0.0.1:8080"
	DefaultDevIssuerListen = "127.0.0.1:8181"
	DefaultNATSListen      = "127.0.0.1:4222"
	DefaultInspectLimit    = 1 << 20
	DefaultInlineLimit     = 64 << 10
	DefaultDecisionTimeout = 2 * time.Second
	DefaultHoldTimeout     = 60 * time.Second
	// StreamDuplicateWindow is how long the streams remember a message id
	// (pkg/bus): nats.max_age and nats.audit_max_age may not be shorter,
	// or JetStream refuses the stream.
	StreamDuplicateWindow  = 2 * time.Minute
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultClockSkew       = 30 * time.Second
	DefaultGroupsClaim     = "groups"
	DefaultAudience        = "airlock"
	DefaultCredentialHdr   = "Authorization"
	DefaultCredentialSch   = "Bearer"
	// BuiltinEcho is the upstream of a connection served by `airlock up`
	// itself: it echoes what reached it, so the tour works offline.
	BuiltinEcho = "builtin:echo"
)

// DefaultReadHeaderTimeout and DefaultBodyTimeout bound how slowly an agent
// may send a request (slowloris): its headers, and the part of its body that
// is inspected.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout       = 60 * time.Second
)

// Defaults of the admin listeners.
const (
	// DefaultAdminListen is where `airlock up` serves /metrics, /healthz
	// and /readyz for every service.
	DefaultAdminListen = "127.0.0.1:9090"
	// DefaultIngressAdminListen and DefaultPolicyAdminListen are where the
	// standalone binaries serve theirs: distinct ports, so that both run
	// on one host with one configuration.
	DefaultIngressAdminListen  = "127.0.0.1:9091"
	DefaultPolicyAdminListen   = "127.0.0.1:9092"
	DefaultMaskerAdminListen   = "127.0.0.1:9093"
	DefaultApproverAdminListen = "127.0.0.1:9094"
	DefaultRecorderAdminListen = "127.0.0.1:9095"
	// ListenNone turns a listener off.
	ListenNone = "none"
)

// Connection types.
const (
	TypeGitHub = "github"
	TypeGit    = "git"
	TypeHTTP   = "http"
	TypeMCP    = "mcp"
)

// Config is the whole of airlock.yaml.
type Config struct {
	// NATS says where the bus is.
	NATS NATS `yaml:"nats"`
	// Identity says which OIDC issuers the ingress trusts.
	Identity Identity `yaml:"identity"`
	// Ingress tunes the HTTP front door.
	Ingress Ingress `yaml:"ingress"`
	// Connections are the upstream services agents may reach, each under
	// the path prefix /<name>/.
	Connections []Connection `yaml:"connections"`
	// Policies are files of rules, relative to this file's directory.
	Policies []string `yaml:"policies"`
	// Admin says where each service serves its metrics and health checks.
	Admin Admin `yaml:"admin"`
	// Masking configures the masker.
	Masking Masking `yaml:"masking"`
	// Approvals configures the approver: who decides held requests, and
	// where they are asked.
	Approvals Approvals `yaml:"approvals"`
	// Recorder says where exchanges are recorded.
	Recorder Recorder `yaml:"recorder"`

	// dir is the directory of the file, for relative paths.
	dir string
	// file is the parsed (expanded) YAML, for the lines of problems found
	// after loading.
	file *ast.File
}

// NATS configures the bus.
type NATS struct {
	// URL of a NATS server or cluster (nats://host:4222). Empty means the
	// embedded server that `airlock up` starts.
	URL string `yaml:"url"`
	// Embedded configures the embedded server, used when URL is empty.
	Embedded EmbeddedNATS `yaml:"embedded"`
	// Replicas of each stream: 1 on one server, 3 on a cluster.
	Replicas int `yaml:"replicas"`
	// MaxAge is how long the AIRLOCK stream keeps request events.
	MaxAge time.Duration `yaml:"max_age"`
	// AuditMaxAge is how long the AIRLOCK_AUDIT stream keeps audit events.
	AuditMaxAge time.Duration `yaml:"audit_max_age"`
	// User is the NATS user this process connects as, with Password.
	// deploy/nats/nats.conf has one user per service; each process names
	// its own through the environment (user: ${AIRLOCK_NATS_USER}), so
	// that the services can share this file. Not used by the embedded
	// server, which runs in-process.
	User string `yaml:"user"`
	// Password is User's password. It must come from the environment
	// (password: ${AIRLOCK_NATS_PASSWORD}); a password written in the file
	// is refused.
	Password string `yaml:"password"`
	// Creds is a NATS credentials file (a user JWT and its NKey seed), the
	// alternative to User and Password on a server run in operator mode.
	// Relative to this file's directory.
	Creds string `yaml:"creds"`
	// TLS secures the connection to the NATS server.
	TLS TLS `yaml:"tls"`
	// Provision makes the standalone services create the streams,
	// consumers and buckets at start, which needs JetStream administration
	// rights. Leave it off with deploy/nats/nats.conf: there the services
	// may not administer the bus, and `airlock provision` (as the admin
	// user) creates everything once. `airlock up` always provisions.
	Provision bool `yaml:"provision"`
}

// TLS names the files of a TLS client. Paths are relative to this file's
// directory. Setting any of them turns TLS on.
type TLS struct {
	// CA is a PEM file of the certificate authorities that sign the
	// server's certificate. Empty means the system's roots.
	CA string `yaml:"ca"`
	// Cert is the client's certificate (PEM), for servers that verify
	// clients (verify: true). Set with Key.
	Cert string `yaml:"cert"`
	// Key is the private key of Cert (PEM).
	Key string `yaml:"key"`
}

// Enabled reports whether any TLS file is set.
func (t TLS) Enabled() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// Admin configures the operators' HTTP listeners. Each serves /metrics
// (Prometheus), /healthz (the process is alive) and /readyz (the service
// is connected to the bus and consuming). "none" turns one off. They are
// never the agents' listener: keep them on loopback or a private network.
type Admin struct {
	// Listen is where `airlock up` serves them, for every service on one
	// registry. Default 127.0.0.1:9090.
	Listen string `yaml:"listen"`
	// Ingress is where the standalone ingress binary serves its own.
	// Default 127.0.0.1:9091.
	Ingress string `yaml:"ingress"`
	// Policy is where the standalone policy binary serves its own.
	// Default 127.0.0.1:9092.
	Policy string `yaml:"policy"`
	// Masker is where the masker service serves them. Default
	// 127.0.0.1:9093.
	Masker string `yaml:"masker"`
	// Approver is where the approver serves them. Default 127.0.0.1:9094.
	Approver string `yaml:"approver"`
	// Recorder is where the recorder serves them. Default 127.0.0.1:9095.
	Recorder string `yaml:"recorder"`
	// Pprof serves Go's profiles under /debug/pprof/ on every admin
	// listener. Off by default.
	Pprof bool `yaml:"pprof"`
}

// EmbeddedNATS configures the in-process nats-server.
type EmbeddedNATS struct {
	// Listen is the loopback address where the CLI reaches the embedded
	// server. Empty means DefaultNATSListen; "none" means no listener.
	Listen string `yaml:"listen"`
	// StoreDir holds JetStream's files. Empty means <data dir>/nats.
	StoreDir string `yaml:"store_dir"`
}

// Identity configures OIDC verification of agents' tokens.
type Identity struct {
	// Issuers are the trusted OIDC issuers.
	Issuers []Issuer `yaml:"issuers"`
	// DevIssuer is the issuer built into `airlock up`, for a first run with
	// no identity provider. Never enable it in production.
	DevIssuer DevIssuer `yaml:"dev_issuer"`
	// ClockSkew is how far past its expiry a token is still accepted.
	ClockSkew time.Duration `yaml:"clock_skew"`
}

// Issuer is one trusted OIDC issuer.
type Issuer struct {
	// URL is the issuer identifier; discovery is at
	// URL/.well-known/openid-configuration.
	URL string `yaml:"url"`
	// Audiences: a token must name at least one of them in "aud".
	Audiences []string `yaml:"audiences"`
	// GroupsClaim is the claim holding the agent's groups.
	GroupsClaim string `yaml:"groups_claim"`
	// Algorithms are the accepted signing algorithms (default RS256, ES256).
	Algorithms []string `yaml:"algorithms"`
}

// DevIssuer configures the built-in development issuer.
type DevIssuer struct {
	// Enabled turns it on.
	Enabled bool `yaml:"enabled"`
	// Listen is the loopback address it serves discovery and JWKS on; its
	// URL is the issuer identifier.
	Listen string `yaml:"listen"`
	// Audience is the audience of the tokens it signs.
	Audience string `yaml:"audience"`
}

// Ingress configures the HTTP front door.
type Ingress struct {
	// Listen is the address agents connect to.
	Listen string `yaml:"listen"`
	// InspectLimit is how much of a request body is buffered and shown to
	// policy; larger bodies still stream through, marked truncated.
	InspectLimit ByteSize `yaml:"inspect_limit"`
	// InlineLimit is the largest body carried inside the request event;
	// larger inspected bodies go to the object store.
	InlineLimit ByteSize `yaml:"inline_limit"`
	// DecisionTimeout is how long a request waits for its verdict before it
	// is refused with 503.
	DecisionTimeout time.Duration `yaml:"decision_timeout"`
	// ReadHeaderTimeout is how long an agent may take to send a request's
	// headers; a slower one (slowloris) has its connection closed.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// BodyTimeout is how long an agent may take to send the part of a
	// request body that is inspected (up to InspectLimit), counted from
	// when the ingress starts reading it; a slower one gets 408 and its
	// connection is closed. The rest of a larger body streams to the
	// upstream without a deadline.
	BodyTimeout time.Duration `yaml:"body_timeout"`
}

// Connection is one upstream service.
type Connection struct {
	// Name is the path prefix (/<name>/...) and the subject token.
	Name string `yaml:"name"`
	// Type is github, git, http or mcp: it selects how policy classifies
	// requests.
	Type string `yaml:"type"`
	// Upstream is the base URL requests are forwarded to, or builtin:echo.
	Upstream string `yaml:"upstream"`
	// Hosts are Host header values that route here without the prefix.
	Hosts []string `yaml:"hosts"`
	// Credential is injected on the way out; the agent never sees it.
	Credential Credential `yaml:"credential"`
	// HoldTimeout is how long a request held for approval waits.
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	// UpstreamTimeout is how long the upstream may take to send its
	// response headers; then the agent gets 504. The body, once started,
	// streams without a deadline.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// Masking sends the connection's bodies through the masker: response
	// bodies are masked, request bodies scanned for policy. Default true.
	Masking *bool `yaml:"masking"`
	// Approvers decide this connection's held requests, instead of
	// approvals.approvers: Slack user ids (U…) or emails.
	Approvers []string `yaml:"approvers"`
	// RetentionDays keeps this connection's recordings that many days,
	// instead of recorder.retention_days.
	RetentionDays int `yaml:"retention_days"`
}

// MaskingOn says whether the connection's bodies go through the masker.
func (c Connection) MaskingOn() bool { return c.Masking == nil || *c.Masking }

// Masking configures the masker.
type Masking struct {
	// Placeholder replaces a secret; "{rule}" is replaced by the rule's
	// id. Default "[MASKED:{rule}]". It may not hold a quote or a
	// backslash: a masked JSON document stays valid.
	Placeholder string `yaml:"placeholder"`
	// Salt keys the fingerprints of findings (HMAC-SHA256). Give every
	// masker replica the same salt, from the environment, so that the
	// same secret has the same fingerprint everywhere; empty means a
	// random salt per process.
	Salt string `yaml:"salt"`
	// Rules is a TOML file of extra detection rules and allowlists in
	// gitleaks' format, relative to this file ([extend] disabledRules
	// turns catalogue rules off).
	Rules string `yaml:"rules"`
	// Fields are JSON field rules: the values of these keys are masked
	// whatever they hold. A key (password), a path ending in one
	// (credentials.password, *.private_key) or from the root ($.a.b).
	// Unset means DefaultMaskFields; [] means none.
	Fields []string `yaml:"fields"`
	// ScanBinary masks binary content types (images, archives, git packs)
	// too; by default they pass unscanned.
	ScanBinary bool `yaml:"scan_binary"`
	// Timeout bounds each round trip from the ingress to the masker; then
	// the response is refused. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// WholeLimit is the largest body masked as one document (JSON field
	// rules, base64 content); larger bodies are masked as text, a piece at
	// a time. Default 4MiB, at most 7MiB (the bus's payload limit is 8).
	WholeLimit ByteSize `yaml:"whole_limit"`
}

// Recorder configures the recorder.
type Recorder struct {
	// S3 is an S3 store (MinIO, AWS, …). Without an endpoint, recordings
	// go to the JetStream object store bucket airlock-recordings: the
	// embedded default of `airlock up`.
	S3 S3 `yaml:"s3"`
	// RetentionDays keeps recordings that many days (S3 lifecycle rules,
	// per connection); 0 keeps them.
	RetentionDays int `yaml:"retention_days"`
}

// S3 is an S3-compatible object store.
type S3 struct {
	// Endpoint is host:port.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// AccessKey and SecretKey come from the environment.
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Region    string `yaml:"region"`
	// Insecure turns TLS off (a MinIO on localhost).
	Insecure bool `yaml:"insecure"`
	// CA is a PEM file of the certificate authorities that sign the
	// endpoint's certificate (a MinIO with a private CA), trusted instead
	// of the system's roots. Relative to this file's directory. Empty
	// means the system's roots. Not with Insecure.
	CA string `yaml:"ca"`
}

// Enabled says whether an S3 store is configured.
func (s S3) Enabled() bool { return s.Endpoint != "" }

// Approvals configures the approver.
type Approvals struct {
	// Approvers may decide any held request whose connection names none of
	// its own: Slack user ids (U…) or emails (resolved through Slack).
	Approvers []string `yaml:"approvers"`
	// Windows are the "approve for N minutes" choices. Default 15m and 1h.
	Windows []time.Duration `yaml:"windows"`
	// GrantTTL is how long an "approve once" given after the held request
	// stopped waiting stays usable for the agent's retry. Default 1h.
	GrantTTL time.Duration `yaml:"grant_ttl"`
	// Slack is where humans are asked. Without a bot token, approvals are
	// decided with `airlock approvals approve|deny` only.
	Slack Slack `yaml:"slack"`
}

// Slack configures the Slack app.
type Slack struct {
	// BotToken is the bot's OAuth token (xoxb-…), from the environment.
	BotToken string `yaml:"bot_token"`
	// SigningSecret verifies interactions sent to the HTTP endpoint.
	SigningSecret string `yaml:"signing_secret"`
	// AppToken (xapp-…) turns on Socket Mode: no public URL needed.
	AppToken string `yaml:"app_token"`
	// Channel is where approval messages are posted (an id, C…).
	Channel string `yaml:"channel"`
	// Listen is where the interactivity endpoint is served, in HTTP mode.
	// Default 127.0.0.1:8090; the Slack app's Request URL must reach it
	// (https://<host>/slack/interactions, through a TLS proxy).
	Listen string `yaml:"listen"`
	// APIURL replaces Slack's API base URL (tests run slack-go's slacktest).
	APIURL string `yaml:"api_url"`
}

// Enabled says whether approvals are asked in Slack.
func (s Slack) Enabled() bool { return s.BotToken != "" }

// Approvals defaults.
const (
	DefaultGrantTTL    = time.Hour
	DefaultSlackListen = "127.0.0.1:8090"
)

// DefaultWindows are the default "approve for N minutes" choices.
var DefaultWindows = []time.Duration{15 * time.Minute, time.Hour}

// Masking defaults.
const (
	DefaultMaskPlaceholder = "[MASKED:{rule}]"
	DefaultMaskTimeout     = 5 * time.Second
	DefaultMaskWholeLimit  = 4 << 20
	MaxMaskWholeLimit      = 7 << 20
)

// DefaultMaskFields are the JSON keys whose values are masked whatever
// they hold.
var DefaultMaskFields = []string{
	"password", "passwd", "client_secret", "private_key", "secret_key",
	"access_token", "refresh_token", "api_key",
}

// Credential says where a connection's service credential comes from and
// how it is sent.
type Credential struct {
	// Env names an environment variable holding the credential.
	Env string `yaml:"env"`
	// File is a file holding the credential (trailing newline trimmed).
	File string `yaml:"file"`
	// Value is the credential itself, usually "${VAR}". Prefer env or file
	// for real secrets: they keep the value out of the parsed config.
	Value string `yaml:"value"`
	// Header is the header it is sent in (default Authorization).
	Header string `yaml:"header"`
	// Scheme prefixes the credential in the header: Bearer (default),
	// token, Basic (sent as x-access-token:<credential>, as git expects), or
	// none for the bare value.
	Scheme string `yaml:"scheme"`
}

// Dir is the directory of the loaded file; relative paths resolve from it.
func (c *Config) Dir() string { return c.dir }

// Path resolves a path named in the file: relative paths are relative to
// the file's directory. An empty path stays empty.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Line is the line of a YAML path ($.nats.creds) in the loaded file, or of
// its nearest parent there; 0 when unknown. Checks made after loading use
// it to report where a problem is.
func (c *Config) Line(path string) int { return lineOf(c.file, path) }

// Connection returns the named connection.
func (c *Config) Connection(name string) (*Connection, bool) {
	for i := range c.Connections {
		if c.Connections[i].Name == name {
			return &c.Connections[i], true
		}
	}
	return nil, false
}

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.NATS.URL == "" && c.NATS.Embedded.Listen == "" {
		c.NATS.Embedded.Listen = DefaultNATSListen
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = DefaultAdminListen
	}
	if c.Admin.Ingress == "" {
		c.Admin.Ingress = DefaultIngressAdminListen
	}
	if c.Admin.Policy == "" {
		c.Admin.Policy = DefaultPolicyAdminListen
	}
	if c.Admin.Masker == "" {
		c.Admin.Masker = DefaultMaskerAdminListen
	}
	if c.Admin.Approver == "" {
		c.Admin.Approver = DefaultApproverAdminListen
	}
	if c.Admin.Recorder == "" {
		c.Admin.Recorder = DefaultRecorderAdminListen
	}
	if c.Masking.Placeholder == "" {
		c.Masking.Placeholder = DefaultMaskPlaceholder
	}
	if c.Masking.Fields == nil {
		c.Masking.Fields = DefaultMaskFields
	}
	if c.Masking.Timeout == 0 {
		c.Masking.Timeout = DefaultMaskTimeout
	}
	if c.Masking.WholeLimit == 0 {
		c.Masking.WholeLimit = DefaultMaskWholeLimit
	}
	if c.Approvals.Windows == nil {
		c.Approvals.Windows = DefaultWindows
	}
	if c.Approvals.GrantTTL == 0 {
		c.Approvals.GrantTTL = DefaultGrantTTL
	}
	if c.Approvals.Slack.Listen == "" {
		c.Approvals.Slack.Listen = DefaultSlackListen
	}
	if c.Identity.ClockSkew == 0 {
		c.Identity.ClockSkew = DefaultClockSkew
	}
	for i := range c.Identity.Issuers {
		is := &c.Identity.Issuers[i]
		if is.GroupsClaim == "" {
			is.GroupsClaim = DefaultGroupsClaim
		}
		if len(is.Algorithms) == 0 {
			is.Algorithms = []string{"RS256", "ES256"}
		}
	}
	if c.Identity.DevIssuer.Listen == "" {
		c.Identity.DevIssuer.Listen = DefaultDevIssuerListen
	}
	if c.Identity.DevIssuer.Audience == "" {
		c.Identity.DevIssuer.Audience = DefaultAudience
	}
	if c.Ingress.Listen == "" {
		c.Ingress.Listen = DefaultIngressListen
	}
	if c.Ingress.InspectLimit == 0 {
		c.Ingress.InspectLimit = DefaultInspectLimit
	}
	if c.Ingress.InlineLimit == 0 {
		c.Ingress.InlineLimit = DefaultInlineLimit
	}
	if c.Ingress.DecisionTimeout == 0 {
		c.Ingress.DecisionTimeout = DefaultDecisionTimeout
	}
	if c.Ingress.ReadHeaderTimeout == 0 {
		c.Ingress.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.Ingress.BodyTimeout == 0 {
		c.Ingress.BodyTimeout = DefaultBodyTimeout
	}
	for i := range c.Connections {
		cn := &c.Connections[i]
		if cn.HoldTimeout == 0 {
			cn.HoldTimeout = DefaultHoldTimeout
		}
		if cn.UpstreamTimeout == 0 {
			cn.UpstreamTimeout = DefaultUpstreamTimeout
		}
		if cn.Credential.Header == "" {
			cn.Credential.Header = DefaultCredentialHdr
		}
		if cn.Credential.Scheme == "" {
			cn.Credential.Scheme = DefaultCredentialSch
		}
	}
}

// ByteSize is a size in bytes, written as an integer or with a unit
// (KiB, MiB, GiB; KB, MB, GB).
type ByteSize int64

// UnmarshalYAML reads 1048576, "1MiB" or "64KiB".
func (b *ByteSize) UnmarshalYAML(unmarshal func(any) error) error {
	var n int64
	if err := unmarshal(&n); err == nil {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := unmarshal(&s); err != nil {
		return fmt.Errorf("size must be a number of bytes or a string like 1MiB: %w", err)
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize reads "1MiB", "64KiB", "512".
func ParseByteSize(s string) (ByteSize, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if len(s) > len(u.suffix) && s[len(s)-len(u.suffix):] == u.suffix {
			mult, num = u.mult, s[:len(s)-len(u.suffix)]
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || fmt.Sprint(n) != num || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit (KiB, MiB, GiB)", s)
	}
	return ByteSize(n * mult), nil
}
