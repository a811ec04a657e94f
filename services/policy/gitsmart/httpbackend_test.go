package gitsmart

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/airlockhq/airlock/pkg/gittest"
)

var update = flag.Bool("update", false, "rewrite testdata/receive-pack and the fuzz corpus from what real git sends")

// capture is one request that reached the git server.
type capture struct {
	Method, Path, Query string
	// Body is the request body, decoded when git compressed it.
	Body []byte
}

// gitServer serves the bare repositories under a directory with
// git http-backend, as a local CGI process, and records every request.
type gitServer struct {
	URL string

	mu       sync.Mutex
	requests []capture
}

// startGitServer serves root over smart HTTP until the test ends.
func startGitServer(t *testing.T, g gittest.Git, root string) *gitServer {
	t.Helper()
	s := &gitServer{}
	record := func(r *http.Request, body []byte) {
		decoded := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				decoded, err = io.ReadAll(zr)
			}
			if err != nil {
				t.Errorf("decoding a gzip body: %v", err)
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, capture{r.Method, r.URL.Path, r.URL.RawQuery, decoded})
		s.mu.Unlock()
	}
	srv := httptest.NewServer(g.Backend(t, root, record))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// take returns the requests recorded since the last call.
func (s *gitServer) take() []capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// TestReceivePackFromGit pushes with real git to git http-backend and
// checks ClassifyPath and ParseReceivePack on every request git sends.
// With -update it also rewrites testdata/receive-pack and seeds the fuzz
// corpus with the bodies it captured.
func TestReceivePackFromGit(t *testing.T) {
	for _, format := range []string{"sha1", "sha256"} {
		t.Run(format, func(t *testing.T) { testReceivePackFromGit(t, format) })
	}
}

func testReceivePackFromGit(t *testing.T, format string) {
	tmp := t.TempDir()
	g := gittest.New(t, tmp)
	root := filepath.Join(tmp, "srv")
	bare := filepath.Join(root, "acme", "api.git")
	g.Run(t, tmp, "init", "--bare", "--object-format="+format, bare)
	g.Run(t, bare, "config", "http.receivepack", "true")
	g.Run(t, bare, "config", "receive.advertisePushOptions", "true")
	srv := startGitServer(t, g, root)

	work := filepath.Join(tmp, "work")
	g.Run(t, tmp, "init", "--object-format="+format, "--initial-branch=main", work)
	g.Run(t, work, "remote", "add", "origin", srv.URL+"/acme/api.git")
	zero := strings.Repeat("0", map[string]int{"sha1": 40, "sha256": 64}[format])

	type want struct {
		ref, kind string
		// old and new are revisions in the work tree before the push, ""
		// for the zero id.
		old, new string
	}
	steps := []struct {
		name     string
		before   [][]string
		push     []string
		want     []want
		options  []string
		packfile bool
		// capability is one the client must have asked for.
		capability string
		// large pushes are chunked and not saved to testdata.
		large bool
	}{
		{
			name:     "create",
			before:   [][]string{{"commit", "--allow-empty", "-m", "one"}},
			push:     []string{"origin", "main"},
			want:     []want{{"refs/heads/main", KindCreate, "", "main"}},
			packfile: true, capability: "object-format=" + format,
		},
		{
			name:     "update",
			before:   [][]string{{"commit", "--allow-empty", "-m", "two"}},
			push:     []string{"origin", "main"},
			want:     []want{{"refs/heads/main", KindUpdate, "origin/main", "main"}},
			packfile: true, capability: "report-status-v2",
		},
		{
			name: "create two",
			push: []string{"origin", "main:refs/heads/feature", "main:refs/heads/topic"},
			want: []want{
				{"refs/heads/feature", KindCreate, "", "main"},
				{"refs/heads/topic", KindCreate, "", "main"},
			},
			// The objects are on the server already: the pack is empty.
			packfile: true,
		},
		{
			name: "delete",
			push: []string{"--delete", "origin", "feature"},
			want: []want{{"refs/heads/feature", KindDelete, "origin/feature", ""}},
		},
		{
			name:     "lightweight tag",
			before:   [][]string{{"tag", "v1"}},
			push:     []string{"origin", "v1"},
			want:     []want{{"refs/tags/v1", KindCreate, "", "v1"}},
			packfile: true,
		},
		{
			name:     "annotated tag",
			before:   [][]string{{"tag", "-a", "-m", "release 2", "v2"}},
			push:     []string{"origin", "v2"},
			want:     []want{{"refs/tags/v2", KindCreate, "", "v2"}},
			packfile: true,
		},
		{
			name:     "push options",
			push:     []string{"-o", "ci.skip", "-o", "reviewer=alice", "origin", "main:refs/heads/opts"},
			want:     []want{{"refs/heads/opts", KindCreate, "", "main"}},
			options:  []string{"ci.skip", "reviewer=alice"},
			packfile: true, capability: "push-options",
		},
		{
			// Indistinguishable from a fast-forward in the commands.
			name:     "force",
			before:   [][]string{{"commit", "--amend", "--allow-empty", "-m", "two, amended"}},
			push:     []string{"--force", "origin", "main"},
			want:     []want{{"refs/heads/main", KindUpdate, "origin/main", "main"}},
			packfile: true,
		},
		{
			// git sends the commands in ref order, not command-line order.
			name: "atomic delete",
			push: []string{"--atomic", "--delete", "origin", "topic", "opts"},
			want: []want{
				{"refs/heads/opts", KindDelete, "origin/opts", ""},
				{"refs/heads/topic", KindDelete, "origin/topic", ""},
			},
			capability: "atomic",
		},
		{
			// Over http.postBuffer (1 MiB): git probes with a bare flush-pkt,
			// then sends the request chunked.
			name:     "large",
			before:   [][]string{{"add", "blob.bin"}, {"commit", "-m", "large"}},
			push:     []string{"origin", "main"},
			want:     []want{{"refs/heads/main", KindUpdate, "origin/main", "main"}},
			packfile: true, large: true,
		},
	}
	for _, step := range steps {
		if step.large {
			blob := make([]byte, 3<<20)
			_, _ = rand.NewChaCha8([32]byte{}).Read(blob) // incompressible, reproducible
			if err := os.WriteFile(filepath.Join(work, "blob.bin"), blob, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range step.before {
			g.Run(t, work, args...)
		}
		rev := func(r string) string {
			if r == "" {
				return zero
			}
			return g.Run(t, work, "rev-parse", "--verify", r)
		}
		var wantUpdates []RefUpdate
		for _, w := range step.want {
			u := RefUpdate{Ref: w.ref, Kind: w.kind, Old: rev(w.old), New: rev(w.new)}
			u.Branch, _ = strings.CutPrefix(w.ref, "refs/heads/")
			if u.Branch == w.ref {
				u.Branch = ""
			}
			u.Tag, _ = strings.CutPrefix(w.ref, "refs/tags/")
			if u.Tag == w.ref {
				u.Tag = ""
			}
			wantUpdates = append(wantUpdates, u)
		}
		srv.take()
		g.Run(t, work, append([]string{"push"}, step.push...)...)

		var bodies [][]byte
		for _, r := range srv.take() {
			c := ClassifyPath(r.Method, r.Path, r.Query)
			if !c.Known || c.Service != ServiceReceivePack || c.Repo != "acme/api" || !c.Write {
				t.Errorf("%s: ClassifyPath(%s %s?%s) = %+v", step.name, r.Method, r.Path, r.Query, c)
			}
			if c.Phase == PhaseRPC {
				bodies = append(bodies, r.Body)
			}
		}
		if len(bodies) == 0 {
			t.Fatalf("%s: no git-receive-pack request", step.name)
		}
		// Anything before the last request is a probe.
		for _, b := range bodies[:len(bodies)-1] {
			if string(b) != "0000" {
				t.Errorf("%s: extra request body %q, want the probe \"0000\"", step.name, b)
			}
			if p, err := ParseReceivePack(b); err != nil || !reflect.DeepEqual(p, Push{}) {
				t.Errorf("%s: ParseReceivePack(probe) = %+v, %v", step.name, p, err)
			}
		}
		if step.large && len(bodies) < 2 {
			t.Errorf("%s: no probe before a large push", step.name)
		}
		body := bodies[len(bodies)-1]
		got, err := ParseReceivePack(body)
		if err != nil {
			t.Fatalf("%s: ParseReceivePack: %v\nbody %q", step.name, err, head(body))
		}
		if !reflect.DeepEqual(got.Updates, wantUpdates) {
			t.Errorf("%s: updates\n%+v\nwant\n%+v", step.name, got.Updates, wantUpdates)
		}
		if !slices.Equal(got.PushOptions, step.options) {
			t.Errorf("%s: push options %q, want %q", step.name, got.PushOptions, step.options)
		}
		if got.Packfile != step.packfile || got.Truncated {
			t.Errorf("%s: Packfile %v, Truncated %v; want %v, false", step.name, got.Packfile, got.Truncated, step.packfile)
		}
		if step.capability != "" && !slices.Contains(got.Capabilities, step.capability) {
			t.Errorf("%s: capabilities %q lack %q", step.name, got.Capabilities, step.capability)
		}
		t.Logf("%s: %q", step.name, head(body))

		if *update && !step.large && !t.Failed() {
			name := format + "-" + strings.ReplaceAll(step.name, " ", "-")
			writeGolden(t, name, body, got)
		}
	}

	// A clone reads: both upload-pack requests classify as reads.
	g.Run(t, tmp, "clone", srv.URL+"/acme/api.git", filepath.Join(tmp, "clone"))
	var phases []string
	for _, r := range srv.take() {
		c := ClassifyPath(r.Method, r.Path, r.Query)
		if !c.Known || c.Service != ServiceUploadPack || c.Repo != "acme/api" || c.Write {
			t.Errorf("clone: ClassifyPath(%s %s?%s) = %+v", r.Method, r.Path, r.Query, c)
		}
		phases = append(phases, c.Phase)
	}
	if !slices.Contains(phases, PhaseAdvertise) || !slices.Contains(phases, PhaseRPC) {
		t.Errorf("clone: phases %q, want both", phases)
	}
}

// head returns the body up to its packfile.
func head(body []byte) []byte {
	if i := bytes.Index(body, []byte("PACK")); i >= 0 {
		return body[:i+4]
	}
	return body
}

// writeGolden saves a captured body, its parse, and a fuzz seed.
func writeGolden(t *testing.T, name string, body []byte, p Push) {
	t.Helper()
	dir := filepath.Join("testdata", "receive-pack")
	js, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", body)
	for path, data := range map[string][]byte{
		filepath.Join(dir, name+".pkt"):                                 body,
		filepath.Join(dir, name+".json"):                                append(js, '\n'),
		filepath.Join("testdata", "fuzz", "FuzzParseReceivePack", name): []byte(seed),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestParseReceivePackCaptured parses the bodies real git sent, saved by
// TestReceivePackFromGit -update, so that they are checked where git is
// not installed.
func TestParseReceivePackCaptured(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "receive-pack", "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no captured bodies in testdata/receive-pack")
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := os.ReadFile(strings.TrimSuffix(f, ".pkt") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var want Push
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := ParseReceivePack(body)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseReceivePack =\n%+v\nwant\n%+v", f, got, want)
		}
	}
}
