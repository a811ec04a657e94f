package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadAppliesDefaultsAndExpandsEnv(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_UPSTREAM", "")
	cfg, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Connections[0].Upstream; got != BuiltinEcho {
		t.Errorf("upstream = %q, want the ${:-} default %q", got, BuiltinEcho)
	}
	if cfg.Ingress.InspectLimit != 2<<20 {
		t.Errorf("inspect_limit = %d, want 2MiB", cfg.Ingress.InspectLimit)
	}
	if cfg.Ingress.DecisionTimeout != 2*time.Second || cfg.Ingress.InlineLimit != DefaultInlineLimit ||
		cfg.Ingress.ReadHeaderTimeout != DefaultReadHeaderTimeout || cfg.Ingress.BodyTimeout != DefaultBodyTimeout {
		t.Errorf("defaults not applied: %+v", cfg.Ingress)
	}
	if cfg.Connections[0].Credential.Scheme != "Bearer" {
		t.Errorf("credential scheme default = %q", cfg.Connections[0].Credential.Scheme)
	}

	t.Setenv("AIRLOCK_TEST_UPSTREAM", "https://api.example.com")
	cfg, err = Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Connections[0].Upstream; got != "https://api.example.com" {
		t.Errorf("upstream = %q, want the variable's value", got)
	}
}

func TestValidateReportsEveryProblemWithItsLine(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		"line 3: $.identity.issuers[0].url: must be https",
		"line 4: $.identity.issuers[0].audiences: missing",
		`line 5: $.identity.issuers[0].algorithms[0]: "HS256" is not an accepted algorithm`,
		"line 7: $.ingress.decision_timeout: must be positive",
		`line 9: $.connections[0].name: "Demo"`,
		`line 10: $.connections[0].type: "ftp"`,
		"line 14: $.connections[1].upstream: must not carry credentials",
		"line 16: $.connections[1].credential: set one of env, file or value",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRejectsUnknownFieldsWithoutEchoingSecrets(t *testing.T) {
	t.Setenv("SECRET_FOR_TEST", "ghp_supersecretvalue")
	_, err := Parse([]byte("connections:\n  - name: x\n    typo: ${SECRET_FOR_TEST}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "typo"`) {
		t.Fatalf("err = %v, want unknown field", err)
	}
	if strings.Contains(err.Error(), "supersecret") {
		t.Fatalf("error echoes an expanded secret: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1MiB", 1 << 20, true}, {"64KiB", 64 << 10, true}, {"512", 512, true}, {"1GB", 1e9, true},
		{"", 0, false}, {"MiB", 0, false}, {"-1KiB", 0, false}, {"1.5MiB", 0, false}, {"1 MiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseNeverPanics(t *testing.T) {
	for _, in := range []string{"connections:\n  !-name: (0", "{", "- - -", "connections: [", "\x00"} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/good.yaml", "testdata/bad.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err == nil && len(cfg.Validate()) != 0 {
			t.Fatal("Parse accepted a config that does not validate")
		}
	})
}

func TestNATSCredentials(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_NATS_PASSWORD", "s3cret-from-env")
	base := "identity: {dev_issuer: {enabled: true}}\nconnections: [{name: demo, type: http, upstream: builtin:echo}]\npolicies: [p.yaml]\n"
	tests := []struct {
		name string
		nats string
		want string // a problem the error must name; empty: valid
	}{
		{"user and password from the environment", "nats:\n  url: nats://bus:4222\n  user: ingress\n  password: ${AIRLOCK_TEST_NATS_PASSWORD}\n", ""},
		{"creds and tls", "nats:\n  url: tls://bus:4222\n  creds: ingress.creds\n  tls: {ca: ca.pem, cert: c.pem, key: k.pem}\n", ""},
		{"password written in the file", "nats:\n  url: nats://bus:4222\n  user: ingress\n  password: hunter2\n", "line 4: $.nats.password: must come from the environment"},
		{"password variable unset", "nats:\n  url: nats://bus:4222\n  user: ingress\n  password: ${AIRLOCK_TEST_UNSET_PASSWORD}\n", `line 4: $.nats.password: missing for user "ingress"`},
		{"password without user", "nats:\n  url: nats://bus:4222\n  password: ${AIRLOCK_TEST_NATS_PASSWORD}\n", "$.nats.user: missing"},
		{"creds and user", "nats:\n  url: nats://bus:4222\n  creds: x.creds\n  user: ingress\n  password: ${AIRLOCK_TEST_NATS_PASSWORD}\n", "line 3: $.nats.creds: set either creds or user and password"},
		{"cert without key", "nats:\n  url: nats://bus:4222\n  tls: {cert: c.pem}\n", "line 3: $.nats.tls: set cert and key together"},
		{"credentials in the url", "nats:\n  url: nats://ingress:pw@bus:4222\n", "line 2: $.nats.url: must not carry credentials"},
		{"max age under the duplicate window", "nats:\n  url: nats://bus:4222\n  max_age: 1m\n", "line 3: $.nats.max_age: must be at least 2m0s"},
		{"audit max age under the duplicate window", "nats:\n  url: nats://bus:4222\n  audit_max_age: 90s\n", "line 3: $.nats.audit_max_age: must be at least 2m0s"},
		{"max age at the duplicate window", "nats:\n  url: nats://bus:4222\n  max_age: 2m\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.nats + base))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.NATS.Password != "" && cfg.NATS.Password != "s3cret-from-env" {
					t.Errorf("password = %q", cfg.NATS.Password)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error echoes a password: %v", err)
			}
		})
	}
}

func TestRecorderS3(t *testing.T) {
	base := "identity: {dev_issuer: {enabled: true}}\nconnections: [{name: demo, type: http, upstream: builtin:echo}]\npolicies: [p.yaml]\n"
	const s3 = "recorder:\n  s3:\n    endpoint: minio:9000\n    bucket: recordings\n    access_key: ak\n    secret_key: sk\n"
	tests := []struct {
		name string
		s3   string
		want string // a problem the error must name; empty: valid
	}{
		{"TLS with the system's roots", s3, ""},
		{"TLS with a CA", s3 + "    ca: minio-ca.pem\n", ""},
		{"plain HTTP", s3 + "    insecure: true\n", ""},
		{"a CA and plain HTTP", s3 + "    insecure: true\n    ca: minio-ca.pem\n", "line 8: $.recorder.s3.ca: set with insecure: true"},
		{"no bucket", "recorder:\n  s3: {endpoint: minio:9000, access_key: ak, secret_key: sk}\n", "$.recorder.s3.bucket: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.s3 + base))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.Recorder.S3.Enabled() {
					t.Error("S3 not enabled")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAdminListeners(t *testing.T) {
	base := "identity: {dev_issuer: {enabled: true}}\nconnections: [{name: demo, type: http, upstream: builtin:echo}]\npolicies: [p.yaml]\n"
	cfg, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin != (Admin{Listen: DefaultAdminListen, Ingress: DefaultIngressAdminListen, Policy: DefaultPolicyAdminListen, Masker: DefaultMaskerAdminListen, Approver: DefaultApproverAdminListen, Recorder: DefaultRecorderAdminListen}) {
		t.Errorf("admin defaults = %+v", cfg.Admin)
	}
	if _, err := Parse([]byte(base + "admin: {listen: none, ingress: none, policy: \"127.0.0.1:0\"}\n")); err != nil {
		t.Errorf("none and port 0: %v", err)
	}
	_, err = Parse([]byte(base + "ingress: {listen: \"127.0.0.1:8080\"}\nadmin:\n  listen: 127.0.0.1:8080\n  policy: nowhere\n"))
	for _, want := range []string{
		`line 6: $.admin.listen: "127.0.0.1:8080" is the ingress's listen address`,
		`line 7: $.admin.policy: "nowhere": want host:port`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestProblemsAreListedOneByOne(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	if len(ps) != 8 {
		t.Fatalf("%d problems, want 8:\n%v", len(ps), ps)
	}
	for _, p := range ps {
		if p.Line == 0 || p.Path == "" || p.Msg == "" {
			t.Errorf("problem without line, path or message: %+v", p)
		}
	}
}

func TestLineAfterLoad(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_UPSTREAM", "")
	cfg, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Line("$.policies"); got != 12 {
		t.Errorf("Line($.policies) = %d, want 12", got)
	}
	if got := cfg.Line("$.connections[0].credential.env"); got != 11 {
		t.Errorf("Line($.connections[0].credential.env) = %d, want 11", got)
	}
	if got, want := cfg.Path("policies/default.yaml"), filepath.Join(cfg.Dir(), "policies/default.yaml"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if got := cfg.Path("/etc/nats/ca.pem"); got != "/etc/nats/ca.pem" {
		t.Errorf("Path of an absolute path = %q", got)
	}
}
