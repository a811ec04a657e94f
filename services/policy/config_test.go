package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/pkg/config"
)

// writeConfig writes airlock.yaml and the named policy files into a
// temporary directory and loads the configuration.
func writeConfig(t *testing.T, policies map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	var list []string
	for name, text := range policies {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		list = append(list, name)
	}
	cfgText := "nats:\n  url: nats://127.0.0.1:4222\nidentity:\n  dev_issuer:\n    enabled: true\n" +
		"connections:\n  - name: demo\n    type: http\n    upstream: builtin:echo\n" +
		"policies: [" + strings.Join(list, ", ") + "]\n"
	path := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFromConfig(t *testing.T) {
	pack, err := os.ReadFile("testdata/service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, map[string]string{"policies/service.yaml": string(pack)})
	set, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 5 {
		t.Errorf("%d rules, want 5", set.Len())
	}

	cfg = writeConfig(t, map[string]string{"policies/bad.yaml": "rules:\n  - name: typo\n    effect: allow\n    when: request.methd == \"GET\"\n"})
	_, err = FromConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("policies", "bad.yaml")+":4:18: rule \"typo\"") {
		t.Errorf("bad policy: %v", err)
	}
}
