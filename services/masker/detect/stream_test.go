package detect

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

// streamMask writes data to a MaskingWriter with the given chunk size in
// pieces of random sizes up to maxPiece and returns what came out.
func streamMask(t *testing.T, d *Detector, data []byte, chunk, maxPiece int, rng *rand.Rand) ([]byte, []Finding) {
	t.Helper()
	var out bytes.Buffer
	w := d.NewWriter(&out, nil)
	w.chunk = chunk
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(maxPiece))
		if got, err := w.Write(rest[:n]); err != nil || got != n {
			t.Fatalf("Write = %d, %v", got, err)
		}
		rest = rest[n:]
		if held := len(w.buf); held > 2*d.reach+chunk {
			t.Fatalf("holds %d bytes, bound %d", held, 2*d.reach+chunk)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), w.Findings()
}

// TestWriterSecretAcrossChunks puts secrets across a chunk boundary at
// every position: the boundary falls before the secret's first byte, inside
// it at every offset, and after its last.
func TestWriterSecretAcrossChunks(t *testing.T) {
	// A smaller MaxSecretLen makes a smaller reach, so shorter inputs.
	d, err := New(Options{MaxSecretLen: 2048})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const chunk = 2 << 10
	for _, s := range []struct{ rule, before, secret string }{
		{"github-pat", "export GITHUB_TOKEN=", corpus.Of("github-pat").Value},
		{"slack-webhook-url", `curl -X POST -d '{"text":"hi"}' `, corpus.Of("slack-webhook-url").Value},
		{"private-key", "", corpus.PEMKey("sweep", 3)},
		{"generic-api-key", `API_KEY = "`, corpus.Fake("generic", corpus.Alnum, 32)},
		{"openai-api-key", "OPENAI_API_KEY=", corpus.Of("openai-api-key").Value},
	} {
		in := "\n" + s.before + s.secret + "\n"
		filler := strings.Repeat("lorem ipsum dolor sit amet\n", (chunk+d.reach)/16)
		// The first flush comes when chunk+reach bytes are pending and
		// writes the first chunk: place the secret so that this boundary
		// crosses it at each offset.
		for off := -1; off <= len(in); off++ {
			if off > 40 && off < len(in)-40 && off%7 != 0 {
				continue // every offset near the ends, every 7th between
			}
			lead := chunk - off
			data := []byte(filler[:lead] + in + filler[:chunk+d.reach])
			want, wantF := d.Mask(data, nil)
			got, gotF := streamMask(t, d, data, chunk, 1<<20, rng)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s split at %d: stream output differs from Mask", s.rule, off)
			}
			if !slices.Equal(gotF, wantF) {
				t.Fatalf("%s split at %d: findings %v, Mask %v", s.rule, off, gotF, wantF)
			}
			if bytes.Contains(got, []byte(s.secret)) {
				t.Fatalf("%s split at %d: secret survives", s.rule, off)
			}
		}
	}
}

// TestWriterEqualsMask streams random documents with planted secrets, in
// pieces of random sizes, through writers with different chunk sizes, and
// compares with Mask of the whole.
func TestWriterEqualsMask(t *testing.T) {
	d := detector(t)
	bare := bareSecrets(t) // secrets that need no context
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 12 {
		var secrets []string
		for len(secrets) < 1+i%8 {
			secrets = append(secrets, bare[rng.IntN(len(bare))].Value)
		}
		data := corpus.GitHubJSON(32<<10+rng.IntN(400<<10), uint64(i), secrets)
		if i%3 == 0 {
			// Also plain text, secrets in random places.
			data = corpus.RandomText(rng, 100<<10, secrets)
		}
		want, wantF := d.Mask(data, nil)
		chunk := []int{1 << 10, 8 << 10, StreamChunk}[i%3]
		got, gotF := streamMask(t, d, data, chunk, []int{7, 1000, 1 << 17}[rng.IntN(3)], rng)
		if !bytes.Equal(got, want) {
			t.Fatalf("document %d (%d bytes, chunk %d): stream output differs from Mask", i, len(data), chunk)
		}
		if !slices.Equal(gotF, wantF) {
			t.Fatalf("document %d: findings %v, Mask %v", i, gotF, wantF)
		}
		if len(wantF) < len(secrets) {
			t.Errorf("document %d: %d findings for %d secrets", i, len(wantF), len(secrets))
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrors(t *testing.T) {
	d := detector(t)
	w := d.NewWriter(failingWriter{}, nil)
	if _, err := w.Write([]byte("short")); err != nil {
		t.Fatalf("a short write fails early: %v", err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	var out bytes.Buffer
	w = d.NewWriter(&out, nil)
	if err := w.Close(); err != nil || out.Len() != 0 {
		t.Fatalf("empty stream: %v, %q", err, out.Bytes())
	}
}

// TestWriterBoundedMemory streams 8 MiB in large writes and checks the
// writer never holds more than its bound.
func TestWriterBoundedMemory(t *testing.T) {
	d := detector(t)
	var out countingWriter
	w := d.NewWriter(&out, nil)
	block := corpus.RandomText(rand.New(rand.NewPCG(7, 8)), 1<<20, []string{corpus.Of("github-pat").Value})
	for range 8 {
		if _, err := w.Write(block); err != nil {
			t.Fatal(err)
		}
		if cap(w.buf) > 2*d.reach+StreamChunk {
			t.Fatalf("buffer capacity %d, bound %d", cap(w.buf), 2*d.reach+StreamChunk)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(w.Findings()) != 8 {
		t.Errorf("%d findings, want 8", len(w.Findings()))
	}
	t.Logf("reach %d bytes: a writer holds at most %d bytes", d.Reach(), 2*d.Reach()+StreamChunk)
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
