package detect

import (
	"errors"
	"fmt"
	"io"
)

// StreamChunk is how many new bytes a MaskingWriter gathers before it masks
// and writes some out.
const StreamChunk = 64 << 10

// ErrClosed is returned by a MaskingWriter's Write after Close.
var ErrClosed = errors.New("masking writer closed")

// MaskingWriter masks a stream as it is written: what it writes to the
// underlying writer is exactly what Mask would make of everything written
// to it, and Findings are the findings Mask would report, at offsets in the
// whole stream.
//
// It gathers StreamChunk bytes, masks them and writes them out, except the
// last Reach bytes, which it holds back: a secret that starts in a chunk
// and ends in the next is masked whole once the next has arrived. It also
// keeps the Reach bytes before what it has not yet written, already
// written, as context (the engine looks up to that far from a secret to
// decide about it). So it holds at most 2×Reach+StreamChunk bytes (about
// 130 KiB with the default MaxSecretLen), whatever the size of the stream
// and of each Write.
//
// (Mask masks its output again while that brings more secrets to light, a
// chain of secrets glued together; a chain longer than Reach is where the
// stream may differ.)
//
// Close writes what is held back; it does not close the underlying writer.
// A MaskingWriter is not safe for concurrent use.
type MaskingWriter struct {
	d           *Detector
	w           io.Writer
	placeholder func(string) string
	chunk       int
	// buf is context (buf[:keep], already written) then pending bytes.
	buf      []byte
	keep     int
	off      int64 // stream offset of buf[0]
	findings []Finding
	err      error
	closed   bool
}

// NewWriter returns a MaskingWriter that writes the masked stream to w,
// replacing each secret with placeholder(rule id), or the default
// "[MASKED:<rule-id>]" when placeholder is nil.
func (d *Detector) NewWriter(w io.Writer, placeholder func(ruleID string) string) *MaskingWriter {
	return &MaskingWriter{d: d, w: w, placeholder: placeholder, chunk: StreamChunk}
}

// Reach is how many bytes a MaskingWriter holds back, and keeps as context:
// the most the engine looks past either end of a secret. It grows with
// Options.MaxSecretLen.
func (d *Detector) Reach() int { return d.reach }

// Write masks and writes what it can of p; the rest waits for more input or
// Close. It returns len(p) unless writing to the underlying writer failed.
func (m *MaskingWriter) Write(p []byte) (int, error) {
	if m.closed {
		return 0, ErrClosed
	}
	if m.err != nil {
		return 0, m.err
	}
	if m.buf == nil {
		m.buf = make([]byte, 0, 2*m.d.reach+m.chunk)
	}
	n := 0
	for len(p) > 0 {
		// Take no more than fills the buffer to chunk + reach pending.
		room := m.keep + m.chunk + m.d.reach - len(m.buf)
		take := min(len(p), max(room, 0))
		m.buf = append(m.buf, p[:take]...)
		p = p[take:]
		n += take
		if len(m.buf)-m.keep >= m.chunk+m.d.reach {
			if err := m.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Close masks and writes everything held back.
func (m *MaskingWriter) Close() error {
	if m.closed {
		return m.err
	}
	m.closed = true
	if m.err != nil {
		return m.err
	}
	return m.flush(true)
}

// Findings returns the findings so far, with offsets in the whole stream.
// Until Close, a secret in the bytes held back is not yet among them.
func (m *MaskingWriter) Findings() []Finding { return m.findings }

// flush masks the pending bytes but the last reach (all of them when final)
// and writes them.
func (m *MaskingWriter) flush(final bool) error {
	c := m.d.MaskChunk(m.buf, m.keep, final, m.placeholder)
	for _, f := range c.Findings {
		m.findings = append(m.findings, Finding{RuleID: f.RuleID, Start: int(m.off) + f.Start, End: int(m.off) + f.End})
	}
	if _, err := m.w.Write(c.Masked); err != nil {
		m.err = fmt.Errorf("writing masked stream: %w", err)
		return m.err
	}
	n := copy(m.buf, m.buf[c.Next:])
	m.buf = m.buf[:n]
	m.keep = c.UpTo - c.Next
	m.off += int64(c.Next)
	return nil
}

// Chunk is what MaskChunk made of one buffer of a stream.
type Chunk struct {
	// Masked is buf[keep:UpTo], masked: what may be written out now.
	Masked []byte
	// UpTo is how far into buf Masked reaches.
	UpTo int
	// Next is where the next buffer starts: the bytes from Next to UpTo
	// are context for it (already written), those from UpTo on are still
	// pending.
	Next int
	// Findings are the secrets in buf[keep:UpTo], at offsets in buf.
	Findings []Finding
}

// MaskChunk is one step of masking a stream, with all of its state in the
// arguments, so that the caller may keep that state elsewhere (the ingress
// does, and sends each buffer to whichever masker replica is free). buf is
// context already written (buf[:keep]) then pending bytes; MaskChunk masks
// the pending bytes but the last Reach — all of them when final — and says
// where the next buffer starts. Feeding it buffers of Reach+StreamChunk
// pending bytes or more makes progress on every call.
func (d *Detector) MaskChunk(buf []byte, keep int, final bool, placeholder func(ruleID string) string) Chunk {
	from, to := keep, len(buf)
	if !final {
		to = max(from, to-d.reach)
	}
	found := d.findMasked(buf, placeholder)
	// Stop before a secret that goes on past what is written now: the next
	// call, with more context after it, masks it whole.
	for _, f := range found {
		start, end := escapeSpan(buf, f.Start, f.End)
		if start < to && end > to {
			to = max(start, from)
			break
		}
	}
	if to == from && !final && len(found) > 0 {
		// A secret longer than a chunk: mask it as it is now, rather than
		// hold more than the bound.
		to = max(from, len(buf)-d.reach)
	}
	var out []Finding
	for _, f := range found {
		if f.End <= from || f.Start >= to {
			continue
		}
		out = append(out, f)
	}
	return Chunk{
		Masked:   maskSpans(buf, out, placeholder, from, to),
		UpTo:     to,
		Next:     max(0, to-d.reach),
		Findings: out,
	}
}

var _ io.WriteCloser = (*MaskingWriter)(nil)
