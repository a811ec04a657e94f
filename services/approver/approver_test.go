package approver

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/pkg/event"
)

func TestPreview(t *testing.T) {
	content := base64.StdEncoding.EncodeToString([]byte("package main\n\nfunc main() {}\n"))
	for _, tc := range []struct {
		name string
		body *event.Body
		want string
	}{
		{"no body", nil, ""},
		{"in the object store", &event.Body{Size: 300 << 10}, "(a body of 307200 bytes, not shown)"},
		{"contents write", &event.Body{Inline: []byte(`{"message":"fix","content":"` + content + `"}`)},
			"commit message: fix\n--- new content ---\npackage main\n\nfunc main() {}\n"},
		{"text", &event.Body{Inline: []byte(`{"title":"x"}`)}, `{"title":"x"}`},
		{"binary", &event.Body{Inline: []byte{0xff, 0xfe, 0x00}}, "(3 bytes of binary data)"},
	} {
		if got := preview(tc.body); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := capText(strings.Repeat("é", 10), 5); got != "éé" {
		t.Errorf("capText cut a character: %q", got)
	}
}

// TestMayDecide: who may decide, with Slack's email lookups stubbed (the
// stack's Slack test runs them against slacktest).
func TestMayDecide(t *testing.T) {
	lookups := map[string]string{"ann@acme.test": "UANN", "bob@acme.test": "UBOB"}
	s := &Service{log: slog.New(slog.DiscardHandler), resolve: func(_ context.Context, emails []string) (map[string]string, error) {
		out := map[string]string{}
		for _, e := range emails {
			if id, ok := lookups[e]; ok {
				out[e] = id
			}
		}
		return out, nil
	}}
	a := &Approval{Identity: "copilot", Email: "bob@acme.test", Approvers: []string{"UCAROL", "ann@acme.test", "bob@acme.test"}}
	for user, want := range map[string]string{
		"UCAROL":  "",
		"UANN":    "",
		"UBOB":    "the requester cannot approve its own request",
		"UDAVE":   "you are not an approver for this request",
		"copilot": "the requester cannot approve its own request",
	} {
		err := s.mayDecide(context.Background(), a, user)
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("%s: %v, want %q", user, err, want)
		}
	}
	s.resolve = func(context.Context, []string) (map[string]string, error) { return nil, errors.New("slack is down") }
	if err := s.mayDecide(context.Background(), a, "UANN"); err == nil {
		t.Error("a failed lookup let a click through")
	}
}
