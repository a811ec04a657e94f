package corpus_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/airlockhq/airlock/services/masker/corpus"
	"github.com/airlockhq/airlock/services/masker/detect"
)

// TestKnownGaps pins three ways in which gitleaks' catalogue, and Airlock
// with it, masks less or more than it should, found while building the
// corpus and kept out of it (Documents must hold only what gitleaks finds,
// Benign nothing it flags). Each case checks that Airlock does what
// gitleaks does; when Airlock is changed to do better on purpose, change
// the case, and move the input into Documents or Benign.
func TestKnownGaps(t *testing.T) {
	setupGitleaks(t)
	found := func(in string) []report.Finding { return gitleaks.DetectString(in) }

	// microsoft-teams-webhook has no secretGroup and a capture group,
	// ([a-z0-9]{4}-){3}, so its secret is that group's last match, five
	// bytes in the middle of the URL: the rest of the URL, which is the
	// credential, survives masking.
	url := "https://contoso.webhook.office.com/webhookb2/b0b745b9-a6a2-440f-a654-3ec87a2a0811@f8312686-d14c-42d7-a1d2-d1f5577d1d07/IncomingWebhook/" +
		corpus.Fake("teams", corpus.LowerAlnum, 32) + "/5f209649-588f-437b-a0b0-8bea50170b42"
	in := "TEAMS_WEBHOOK_URL=" + url + "\n"
	fs := found(in)
	if len(fs) != 1 || fs[0].RuleID != "microsoft-teams-webhook" || fs[0].Secret != "a654-" {
		t.Errorf("teams webhook: gitleaks finds %v", fs)
	}
	masked, _ := airlock.Mask([]byte(in), nil)
	if want := bytes.Replace([]byte(in), []byte("a654-"), []byte("[MASKED:microsoft-teams-webhook]"), 1); !bytes.Equal(masked, want) {
		t.Errorf("teams webhook: Airlock masks %q", masked)
	}
	t.Logf("microsoft-teams-webhook: gitleaks' secret is %q; masked, the URL reads %q", fs[0].Secret, masked)

	// Inside a JSON string (a gist's file, a commit's patch), a quoted
	// value is followed by \" , and the rules that want a quote, space, ;
	// or \n after the secret see none: the token survives. Unquoted, it is
	// found.
	npm := corpus.Of("npm-access-token").Value
	for _, tc := range []struct {
		in    string
		found bool
	}{
		{`{"content":"NPM_TOKEN = \"` + npm + `\"\nREGISTRY = \"https://registry.npmjs.org\"\n"}`, false},
		{`{"content":"NPM_TOKEN=` + npm + `\nREGISTRY=https://registry.npmjs.org\n"}`, true},
	} {
		fs := found(tc.in)
		masked, _ := airlock.Mask([]byte(tc.in), nil)
		if got := len(fs) == 1 && fs[0].Secret == npm; got != tc.found {
			t.Errorf("%s: gitleaks finds %v", tc.in, fs)
		}
		if got := !bytes.Contains(masked, []byte(npm)); got != tc.found {
			t.Errorf("%s: Airlock masks %s", tc.in, masked)
		}
	}
	t.Logf("a quoted npm token in escaped JSON text: neither gitleaks nor Airlock finds it")

	// go.sum: a module path ending in a generic-api-key keyword ("auth" in
	// oauth2, "key" in nkeys, "api") followed by " v… h1:" reads as
	// "<identifier>: <secret>", and the hash has the entropy of one.
	// gitleaks' global allowlist skips go.sum by its path; a body has none.
	for _, line := range []string{
		"golang.org/x/oauth2 v0.21.0 h1:tsimM75w1tF/uws5rbeHzIWxEqElMehnc+iW793zsZs=\n",
		"github.com/nats-io/nkeys v0.4.7 h1:RwNJbbIdYCoClSDNY7QVKZlyb/wfT6ugvFCiKy6vDvI=\n",
		"google.golang.org/api v0.180.0 h1:M2D87Yo0rGBPWpo1orwfCLehUUL6E7/TYe5gvMQWDh4=\n",
	} {
		fs := found(line)
		_, mfs := airlock.Mask([]byte(line), nil)
		if len(fs) != 1 || fs[0].RuleID != "generic-api-key" {
			t.Errorf("%q: gitleaks finds %v", line, fs)
		}
		if !slices.ContainsFunc(mfs, func(f detect.Finding) bool { return f.RuleID == "generic-api-key" }) {
			t.Errorf("%q: Airlock finds %v", line, mfs)
		}
	}
	t.Logf("go.sum lines of golang.org/x/oauth2, nats-io/nkeys and google.golang.org/api: both flag the h1: hash as generic-api-key")
}
