package ingress

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strings"
)

// credentialPlaceholder replaces a connection's own credential in a
// response header an upstream echoes it in. In a body it is replaced by
// as many asterisks: the body keeps its length, so that a Content-Length
// still holds and a binary format its offsets.
const credentialPlaceholder = "[MASKED:airlock-credential]"

// minEchoLen is the shortest credential looked for in responses: a
// shorter one would match ordinary text.
const minEchoLen = 12

// echoes are the spellings of a raw credential an upstream may send back:
// the token itself and, for Basic, the encoded header value. The masker
// finds secrets by their format; the ingress knows this one's value,
// whatever its format, and takes it out before the agent, the bus or a
// recording can see it.
func echoes(raw, scheme string) [][]byte {
	if len(raw) < minEchoLen {
		return nil
	}
	out := [][]byte{[]byte(raw)}
	if scheme == "Basic" {
		out = append(out, []byte(base64.StdEncoding.EncodeToString([]byte("x-access-token:"+raw))))
	}
	return out
}

// scrubHeader replaces the credential in every response header value.
func scrubHeader(h http.Header, needles [][]byte) {
	for k, vs := range h {
		for i, v := range vs {
			for _, n := range needles {
				v = strings.ReplaceAll(v, string(n), credentialPlaceholder)
			}
			h[k][i] = v
		}
	}
}

// scrubReader replaces every occurrence of its needles in what src reads
// with as many asterisks, including one split across reads: it holds
// back the last bytes that may begin one until the next read or the end.
type scrubReader struct {
	src     io.Reader
	needles [][]byte
	keep    int
	stars   []byte
	room    int // how much pending is grown by for a read
	pending []byte
	out     []byte
	outBuf  []byte
	done    bool
	err     error
}

// newScrubReader returns src with needles replaced; src itself when there
// is nothing to look for.
func newScrubReader(src io.Reader, needles [][]byte) io.Reader {
	if len(needles) == 0 {
		return src
	}
	s := &scrubReader{src: src, needles: needles, room: 4 << 10}
	for _, n := range needles {
		s.keep = max(s.keep, len(n)-1)
	}
	s.stars = bytes.Repeat([]byte("*"), s.keep+1)
	return s
}

func (s *scrubReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		// Read into pending's spare room, no second buffer: 4 KiB for a
		// small body, doubling up to 64 KiB while the source fills it, so
		// that a large one is not passed on in small writes.
		s.pending = slices.Grow(s.pending, s.room)
		spare := s.pending[len(s.pending):cap(s.pending)]
		n, err := s.src.Read(spare)
		s.pending = s.pending[:len(s.pending)+n]
		if n == len(spare) && s.room < 64<<10 {
			s.room *= 2
		}
		if err != nil {
			s.done = true
			if err != io.EOF {
				s.err = err
			}
		}
		s.scan()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// scan moves what is settled from pending to out, needles replaced.
func (s *scrubReader) scan() {
	data, out := s.pending, s.outBuf[:0]
	for {
		at, size := -1, 0
		for _, n := range s.needles {
			if i := bytes.Index(data, n); i >= 0 && (at < 0 || i < at) {
				at, size = i, len(n)
			}
		}
		if at < 0 {
			break
		}
		out = append(append(out, data[:at]...), s.stars[:size]...)
		data = data[at+size:]
	}
	hold := 0
	if !s.done {
		hold = min(len(data), s.keep)
	}
	out = append(out, data[:len(data)-hold]...)
	s.pending = append(s.pending[:0], data[len(data)-hold:]...)
	s.outBuf, s.out = out, out
}
