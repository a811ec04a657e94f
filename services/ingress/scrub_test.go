package ingress

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// TestScrubReaderReplacesEveryEcho: the credential is replaced wherever
// it falls, across any read boundary, the body keeps its length, and
// nothing else changes.
func TestScrubReaderReplacesEveryEcho(t *testing.T) {
	raw := "s3cr3t-t0ken-0123456789abcdef"
	needles := echoes(raw, "Basic")
	encoded := string(needles[1])
	stars := func(s string) string { return strings.Repeat("*", len(s)) }
	for _, tc := range []struct{ name, in, want string }{
		{"none", "nothing to see here", "nothing to see here"},
		{"alone", raw, stars(raw)},
		{"in JSON", `{"auth":"Bearer ` + raw + `"}`, `{"auth":"Bearer ` + stars(raw) + `"}`},
		{"twice, back to back", raw + raw, stars(raw) + stars(raw)},
		{"the Basic form", "Authorization: Basic " + encoded, "Authorization: Basic " + stars(encoded)},
		{"a prefix only", raw[:len(raw)-1] + "!", raw[:len(raw)-1] + "!"},
		{"far in", strings.Repeat("a", 100<<10) + raw + "z", strings.Repeat("a", 100<<10) + stars(raw) + "z"},
	} {
		for _, r := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"a byte at a time", iotest.OneByteReader},
			{"half reads", iotest.HalfReader},
		} {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				got, err := io.ReadAll(newScrubReader(r.wrap(strings.NewReader(tc.in)), needles))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tc.want {
					t.Errorf("got %.80q, want %.80q", got, tc.want)
				}
				if len(got) != len(tc.in) {
					t.Errorf("length %d, want %d", len(got), len(tc.in))
				}
			})
		}
	}
	if got, err := io.ReadAll(newScrubReader(iotest.TimeoutReader(strings.NewReader(raw)), needles)); err != iotest.ErrTimeout || bytes.Contains(got, []byte(raw)) {
		t.Errorf("a failing source: %q, %v", got, err)
	}
	if echoes("short", "Bearer") != nil {
		t.Error("a credential under minEchoLen is looked for")
	}
	h := http.Header{"X-Debug": {"token=" + raw}, "Www-Authenticate": {"Basic " + encoded}}
	scrubHeader(h, needles)
	if strings.Contains(h.Get("X-Debug"), raw) || strings.Contains(h.Get("Www-Authenticate"), encoded) || !strings.Contains(h.Get("X-Debug"), credentialPlaceholder) {
		t.Errorf("headers not scrubbed: %v", h)
	}
}
