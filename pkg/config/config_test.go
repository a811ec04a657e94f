package config

import (
	"errors"
	"os"
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
	if cfg.Ingress.DecisionTimeout != 2*time.Second || cfg.Ingress.InlineLimit != DefaultInlineLimit {
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
