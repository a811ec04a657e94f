package maskstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
)

// ErrUnavailable is returned when no masker answered: the caller must fail
// closed (refuse, never pass the body raw).
var ErrUnavailable = errors.New("the masker is unavailable")

// Defaults of a Client.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultChunk      = 256 << 10
	DefaultWholeLimit = 4 << 20
)

// Client sends bodies to the masker.
type Client struct {
	nc *nats.Conn
	// Timeout bounds each round trip.
	Timeout time.Duration
	// Chunk is how many new bytes each piece of a large body carries.
	Chunk int
	// WholeLimit is the largest body sent whole, as one document; it must
	// fit the bus's max payload.
	WholeLimit int
}

// NewClient returns a client with the default limits.
func NewClient(nc *nats.Conn) *Client {
	return &Client{nc: nc, Timeout: DefaultTimeout, Chunk: DefaultChunk, WholeLimit: DefaultWholeLimit}
}

// Mask sends one piece and returns the masker's answer.
func (c *Client) Mask(ctx context.Context, conn string, p Piece) (Masked, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	reply, err := c.nc.RequestMsgWithContext(ctx, encodePiece(subject.Mask(conn), p))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionClosed) {
			return Masked{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return Masked{}, fmt.Errorf("asking the masker: %w", err)
	}
	return decodeMasked(reply, p)
}

// Whole masks a body that fits in one piece (a request body, at most the
// inspect limit).
func (c *Client) Whole(ctx context.Context, conn string, p Piece) (Masked, error) {
	if len(p.Data) > c.WholeLimit {
		return Masked{}, fmt.Errorf("body of %d bytes is larger than the masker's whole-body limit %d", len(p.Data), c.WholeLimit)
	}
	p.Offset, p.Keep, p.Final = 0, 0, true
	return c.Mask(ctx, conn, p)
}

// Reader masks a body as it is read, a piece at a time. Findings are
// complete once Read has returned io.EOF.
type Reader struct {
	c    *Client
	ctx  context.Context
	conn string
	meta Piece
	// mediaType is meta's, parsed.
	mediaType string
	src       io.ReadCloser
	// events is true for server-sent events: each event is masked and
	// passed on as soon as it is whole, not held for more.
	events bool

	buf      []byte // context (buf[:keep], already masked and passed on), then pending bytes
	keep     int
	off      int64 // where buf[0] is in the body
	out      []byte
	srcDone  bool
	final    bool // the last piece is answered
	err      error
	findings []event.Finding
}

// NewReader returns a Reader that masks src, the body of the response to
// request id on connection conn. Close closes src.
func (c *Client) NewReader(ctx context.Context, conn, id, contentType string, src io.ReadCloser) *Reader {
	mt, _, _ := mime.ParseMediaType(contentType)
	return &Reader{
		c: c, ctx: ctx, conn: conn, src: src, mediaType: mt,
		meta:   Piece{RequestID: id, Direction: Response, ContentType: contentType},
		events: mt == "text/event-stream",
	}
}

// NewRequestReader returns a Reader that masks src, the inspected part of
// request id's body; truncated says the body goes on past it, unseen.
func (c *Client) NewRequestReader(ctx context.Context, conn, id, contentType string, truncated bool, src io.ReadCloser) *Reader {
	mt, _, _ := mime.ParseMediaType(contentType)
	return &Reader{
		c: c, ctx: ctx, conn: conn, src: src, mediaType: mt,
		meta: Piece{RequestID: id, Direction: Request, ContentType: contentType, Truncated: truncated},
	}
}

// Start masks the first piece, so that a masker that does not answer is
// known before anything is sent to the agent.
func (r *Reader) Start() error {
	if r.out == nil && !r.final && r.err == nil {
		r.err = r.step()
	}
	return r.err
}

// Read returns masked bytes.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.final {
			return 0, io.EOF
		}
		r.err = r.step()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// Err is why masking stopped early, if it did.
func (r *Reader) Err() error { return r.err }

// Close closes the source.
func (r *Reader) Close() error { return r.src.Close() }

// Findings are the secrets masked so far.
func (r *Reader) Findings() []event.Finding { return r.findings }

// step reads the next piece from the source, has it masked, and keeps what
// the answer leaves pending.
func (r *Reader) step() error {
	limit := r.keep + r.c.Chunk
	if r.off == 0 && r.keep == 0 && !r.events {
		// The first piece: the whole body when it fits and may be a JSON
		// document, so that the masker can read it as one. Any other body
		// streams a piece at a time: a 100 MiB log is not held 4 MiB at a
		// time in the ingress, the bus and the masker.
		if _, err := r.fill(min(limit, r.c.WholeLimit)); err != nil {
			return err
		}
		if r.srcDone || MaybeDocument(r.mediaType, r.buf) {
			limit = r.c.WholeLimit
		}
	}
	end, err := r.fill(limit)
	if err != nil {
		return err
	}
	p := r.meta
	p.Offset, p.Keep, p.Final = r.off, r.keep, r.srcDone
	p.Data = r.buf
	if end > 0 { // a whole server-sent event, or several: mask them at once
		p.Data, p.Final = r.buf[:end], true
	}
	if p.Final && len(p.Data) == p.Keep { // nothing left to mask
		r.final, r.buf = true, nil
		return nil
	}
	ans, err := r.c.Mask(r.ctx, r.conn, p)
	if err != nil {
		return err
	}
	r.out = ans.Data
	r.findings = append(r.findings, ans.Findings...)
	if end > 0 {
		rest := copy(r.buf, r.buf[end:])
		r.buf, r.keep, r.off = r.buf[:rest], 0, r.off+int64(end)
		if r.srcDone && rest == 0 {
			r.final = true
		}
		return nil
	}
	if p.Final {
		r.final, r.buf = true, nil
		return nil
	}
	rest := copy(r.buf, r.buf[ans.Next:])
	r.buf, r.keep, r.off = r.buf[:rest], ans.UpTo-ans.Next, r.off+int64(ans.Next)
	return nil
}

// fill reads from the source until the buffer holds limit bytes or the
// source ends; for events, until an event is whole. It returns where the
// last whole event ends, or 0.
func (r *Reader) fill(limit int) (int, error) {
	for !r.srcDone && len(r.buf) < limit {
		if end := r.eventsEnd(); end > 0 {
			return end, nil
		}
		if cap(r.buf)-len(r.buf) < 32<<10 {
			r.buf = slices.Grow(r.buf, max(64<<10, min(limit, 2*cap(r.buf))-len(r.buf)))
		}
		n, err := r.src.Read(r.buf[len(r.buf):min(cap(r.buf), limit)])
		r.buf = r.buf[:len(r.buf)+n]
		if errors.Is(err, io.EOF) {
			r.srcDone = true
		} else if err != nil {
			return 0, err
		}
	}
	if r.srcDone {
		return 0, nil
	}
	// An event longer than a piece goes as it is.
	return r.eventsEnd(), nil
}

// eventsEnd is where the last whole server-sent event in the pending bytes
// ends, or 0.
func (r *Reader) eventsEnd() int {
	if !r.events {
		return 0
	}
	pending := r.buf[r.keep:]
	i := max(bytes.LastIndex(pending, []byte("\n\n")), bytes.LastIndex(pending, []byte("\r\n\r\n")))
	if i < 0 {
		return 0
	}
	if bytes.HasPrefix(pending[i:], []byte("\r\n\r\n")) {
		return r.keep + i + 4
	}
	return r.keep + i + 2
}

// Scannable says whether a body of this content type is masked: text and
// structured types are; images, archives, fonts, git packs and other
// binary types pass unscanned unless scanBinary.
func Scannable(contentType string, scanBinary bool) bool {
	if scanBinary {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true // unknown: scan it
	}
	major, minor, _ := strings.Cut(mt, "/")
	switch major {
	case "image", "audio", "video", "font":
		return minor == "svg+xml"
	case "application":
		switch {
		case minor == "octet-stream", minor == "zip", minor == "gzip", minor == "x-gzip",
			minor == "x-tar", minor == "pdf", minor == "wasm", minor == "vnd.github.raw+octet-stream",
			strings.HasPrefix(minor, "x-git-"):
			return false
		}
	}
	return true
}
