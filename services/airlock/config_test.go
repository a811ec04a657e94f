package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("AIRLOCK_NATS_URL", "")
	tests := []struct {
		name    string
		file    string
		wantErr bool
		want    []string
	}{
		{"the sample", "../../deploy/examples/airlock.yaml", false, []string{
			"warning: ../../deploy/examples/airlock.yaml:",
			"$.connections[2].credential.env: GITHUB_TOKEN is not set: connection github answers 503",
			"ok: ../../deploy/examples/airlock.yaml",
			"connections  demo (http), demo-github (github), github (github)",
			"nats         embedded",
			"masking      217 detection rules, 8 field rules, on 3 of 3 connections",
			"admin        127.0.0.1:9090 (airlock up)",
		}},
		{"invalid", "testdata/invalid.yaml", true, []string{
			"testdata/invalid.yaml:4: $.nats.password: must come from the environment",
			"testdata/invalid.yaml:8: $.ingress.decision_timeout: must be positive",
			`testdata/invalid.yaml:10: $.connections[0].name: "Demo"`,
			`testdata/invalid.yaml:15: $.admin.listen: "nowhere": want host:port`,
		}},
		{"files outside", "testdata/outside.yaml", true, []string{
			"warning: testdata/outside.yaml:11: $.connections[0].credential.env: AIRLOCK_TEST_UNSET_CREDENTIAL is not set",
			"testdata/outside.yaml:3: $.nats.creds: cannot read ",
			"testdata/outside.yaml:4: $.nats.tls.ca: ", "rules.yaml holds no PEM certificate",
			"testdata/outside.yaml:15: $.connections[1].credential.file: cannot read /nonexistent/credential",
			"testdata/outside.yaml:18: $.policies[1]: cannot read ",
			"testdata/outside.yaml:25: $.recorder.s3.ca: cannot read ", "missing-ca.pem",
		}},
		{"rules that do not compile", "testdata/broken-rules.yaml", true, []string{
			"testdata/broken-rules.yaml:9: $.policies: loading policies:",
			"broken.yaml:4",
		}},
		{"masking rules that do not compile", "testdata/broken-masking.yaml", true, []string{
			"testdata/broken-masking.yaml:11: $.masking: ", "acme-token",
		}},
		{"no such file", "testdata/nothing-here.yaml", true, []string{
			"testdata/nothing-here.yaml: reading config:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRootCmd()
			root.SetOut(&out)
			root.SetArgs([]string{"config", "check", "--config", tt.file})
			err := root.Execute()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v\n%s", err, tt.wantErr, &out)
			}
			if err != nil && !errors.Is(err, errConfigProblems) {
				t.Errorf("err = %v, want errConfigProblems", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, &out)
				}
			}
			if tt.wantErr && strings.Contains(out.String(), "ok:") {
				t.Errorf("a summary despite problems:\n%s", &out)
			}
			if strings.Contains(out.String(), "written-here") {
				t.Errorf("the output echoes the password:\n%s", &out)
			}
		})
	}
}
