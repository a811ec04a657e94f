package maskstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/event"
)

// The real masker lives in services/masker and is tested there and end
// to end; these tests check the wire and the client's state machine with
// a masker that knows one pattern, SECRET-xxxx, and looks reach bytes
// around it, as the real engine does.
const reach = 16

var token = regexp.MustCompile(`SECRET-[0-9a-f]{4}`)

func fakeMask(p Piece) (Masked, error) {
	from, to := p.Keep, len(p.Data)
	if !p.Final {
		to = max(from, to-reach)
	}
	locs := token.FindAllIndex(p.Data, -1)
	for _, l := range locs {
		if l[0] < to && l[1] > to {
			to = max(from, l[0])
			break
		}
	}
	var out []byte
	var fs []event.Finding
	prev := from
	for _, l := range locs {
		if l[0] < from || l[1] > to {
			continue
		}
		out = append(append(out, p.Data[prev:l[0]]...), "[MASKED:fake]"...)
		fs = append(fs, event.Finding{Rule: "fake", Location: fmt.Sprintf("body@%d", p.Offset+int64(l[0]))})
		prev = l[1]
	}
	out = append(out, p.Data[prev:to]...)
	return Masked{Data: out, UpTo: to, Next: max(0, to-reach), Findings: fs}, nil
}

func serve(t *testing.T, h Handler) *Client {
	t.Helper()
	s := bustest.Start(t)
	snc, _ := s.Connect(t, "masker")
	srv, err := Serve(snc, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Drain() })
	cnc, _ := s.Connect(t, "ingress")
	c := NewClient(cnc)
	c.Timeout = 2 * time.Second
	return c
}

// body is n bytes of text with tokens at random places, and the same text
// masked.
func body(n int, seed uint64) (raw, masked []byte, tokens int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(40) == 0 {
			fmt.Fprintf(&b, "SECRET-%04x", rng.IntN(1<<16))
			tokens++
			continue
		}
		b.WriteByte("abcdefghij \n"[rng.IntN(12)])
	}
	raw = b.Bytes()
	return raw, token.ReplaceAll(raw, []byte("[MASKED:fake]")), tokens
}

func TestReaderMasksEveryPieceOfALargeBody(t *testing.T) {
	c := serve(t, fakeMask)
	c.Chunk, c.WholeLimit = 512, 1024
	for _, tc := range []struct {
		name string
		n    int
		slow bool
	}{
		{"whole", 900, false},
		{"many pieces", 200 << 10, false},
		{"one byte at a time", 20 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, want, tokens := body(tc.n, uint64(tc.n))
			var src io.Reader = bytes.NewReader(raw)
			if tc.slow {
				src = iotest.OneByteReader(src)
			}
			r := c.NewReader(context.Background(), "demo", "01JCZ7Z0K8Q0A4M6W2B8C9D0EF", "text/plain", io.NopCloser(src))
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Fatalf("masked body differs at %d: got %q, want %q", i, got[i:min(len(got), i+40)], want[i:min(len(want), i+40)])
			}
			if len(r.Findings()) != tokens {
				t.Errorf("%d findings, want %d", len(r.Findings()), tokens)
			}
		})
	}
}

// TestOnlyWhatMayBeADocumentIsSentWhole: the first piece is the whole body
// (up to WholeLimit) only when the masker may read it as a JSON document;
// any other large body streams in pieces of Chunk, so that a long log is
// never held whole in the ingress, the bus and the masker.
func TestOnlyWhatMayBeADocumentIsSentWhole(t *testing.T) {
	var mu sync.Mutex
	var first []int
	c := serve(t, func(p Piece) (Masked, error) {
		if p.Offset == 0 {
			mu.Lock()
			first = append(first, len(p.Data))
			mu.Unlock()
		}
		return fakeMask(p)
	})
	c.Chunk, c.WholeLimit = 512, 4096
	text, _, _ := body(3000, 7)
	doc := append([]byte(`  {"log": "`), bytes.Repeat([]byte("a"), 3000)...)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		whole             bool
	}{
		{"text", "text/plain", text, false},
		{"JSON labelled JSON", "application/json", text, true},
		{"JSON labelled text", "text/plain; charset=utf-8", doc, true},
		{"JSON with a vendor type", "application/vnd.github+json", text, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			first = nil
			mu.Unlock()
			r := c.NewReader(context.Background(), "demo", "01JCZ7Z0K8Q0A4M6W2B8C9D0EF", tc.contentType, io.NopCloser(bytes.NewReader(tc.body)))
			if _, err := io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(first) != 1 {
				t.Fatalf("%d first pieces", len(first))
			}
			if whole := first[0] == len(tc.body); whole != tc.whole {
				t.Errorf("first piece %d bytes of %d: whole %v, want %v", first[0], len(tc.body), whole, tc.whole)
			}
		})
	}
}

func TestNoMaskerIsUnavailable(t *testing.T) {
	s := bustest.Start(t)
	nc, _ := s.Connect(t, "ingress")
	c := NewClient(nc)
	r := c.NewReader(context.Background(), "demo", "id", "application/json", io.NopCloser(bytes.NewReader([]byte(`{"a":1}`))))
	start := time.Now()
	if err := r.Start(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start with no masker: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("no masker took %s to notice: want no responders at once", d)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Read after a failed start: %d, %v", n, err)
	}
}

func TestBadAnswersNeverPassRawBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Handler
	}{
		{"handler error", func(Piece) (Masked, error) { return Masked{}, errors.New("detector broke") }},
		{"up to past the piece", func(p Piece) (Masked, error) {
			return Masked{Data: p.Data, UpTo: len(p.Data) + 1, Next: 0}, nil
		}},
		{"final piece not masked to its end", func(p Piece) (Masked, error) {
			return Masked{Data: nil, UpTo: p.Keep, Next: 0}, nil
		}},
		{"next past up to", func(p Piece) (Masked, error) {
			return Masked{Data: nil, UpTo: p.Keep, Next: p.Keep + 1}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, tc.h)
			r := c.NewReader(context.Background(), "demo", "id", "text/plain", io.NopCloser(bytes.NewReader([]byte("SECRET-abcd"))))
			got, err := io.ReadAll(r)
			if err == nil {
				t.Fatal("no error")
			}
			if len(got) > 0 {
				t.Errorf("bytes passed despite the error: %q", got)
			}
		})
	}
}

func TestServerSentEventsPassWhenWhole(t *testing.T) {
	c := serve(t, fakeMask)
	pr, pw := io.Pipe()
	r := c.NewReader(context.Background(), "demo", "id", "text/event-stream", pr)
	go func() {
		fmt.Fprint(pw, "data: first SECRET-0001\n\n")
	}()
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "data: first [MASKED:fake]\n\n" {
		t.Fatalf("first event = %q", got)
	}
	go func() {
		fmt.Fprint(pw, "data: second SECRET-0002\r\n\r\ndata: tail")
		pw.Close()
	}()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rest); got != "data: second [MASKED:fake]\r\n\r\ndata: tail" {
		t.Errorf("rest = %q", got)
	}
}

func TestEmptyBodyAsksNothing(t *testing.T) {
	asked := false
	c := serve(t, func(p Piece) (Masked, error) { asked = true; return fakeMask(p) })
	got, err := io.ReadAll(c.NewReader(context.Background(), "demo", "id", "text/plain", io.NopCloser(bytes.NewReader(nil))))
	if err != nil || len(got) != 0 || asked {
		t.Errorf("empty body: %q, %v, asked %v", got, err, asked)
	}
}

func TestScannable(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                        true,
		"application/json; charset=utf-8":         true,
		"text/plain":                              true,
		"text/event-stream":                       true,
		"application/vnd.github+json":             true,
		"image/svg+xml":                           true,
		"":                                        true,
		"garbage/;;":                              true,
		"image/png":                               false,
		"application/octet-stream":                false,
		"application/zip":                         false,
		"application/x-git-upload-pack-result":    false,
		"application/x-git-receive-pack-request":  false,
		"application/vnd.github.raw+octet-stream": false,
	} {
		if got := Scannable(ct, false); got != want {
			t.Errorf("Scannable(%q) = %v, want %v", ct, got, want)
		}
		if !Scannable(ct, true) {
			t.Errorf("Scannable(%q, scanBinary) = false", ct)
		}
	}
}
