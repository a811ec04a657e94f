package ingress

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/andybalholm/brotli"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
)

// errUninspectable is a body the masker cannot be shown: an encoding
// Airlock cannot decode. It is refused, never passed raw: the agent's
// request with 415, the upstream's answer with 502.
type errUninspectable struct {
	encoding string
	request  bool
}

func (e errUninspectable) Error() string {
	if e.request {
		return "request bodies with content-encoding " + e.encoding + " cannot be inspected"
	}
	return fmt.Sprintf("the upstream sent content-encoding %q, which Airlock cannot inspect", e.encoding)
}

// decodableEncodings are the content codings Airlock decodes to mask what
// they carry; the agent then receives the identity coding.
var decodableEncodings = []string{"gzip", "deflate", "br"}

// acceptEncoding keeps, of what the agent accepts, the codings Airlock can
// decode, so that the upstream sends nothing it cannot inspect. Empty
// means the header is dropped (the transport then asks for gzip).
func acceptEncoding(h string) string {
	var keep []string
	for _, part := range strings.Split(h, ",") {
		coding, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		for _, d := range decodableEncodings {
			if coding == d {
				keep = append(keep, strings.TrimSpace(part))
			}
		}
	}
	return strings.Join(keep, ", ")
}

// decodeBody returns the response body without its content coding.
func decodeBody(resp *http.Response) (io.ReadCloser, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	body := resp.Body
	var r io.Reader
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("decoding gzip response: %w", err)
		}
		r = zr
	case "deflate":
		// "deflate" is zlib-wrapped by the standard, raw by some servers.
		br := bufio.NewReader(body)
		head, _ := br.Peek(2)
		if len(head) == 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, fmt.Errorf("decoding deflate response: %w", err)
			}
			r = zr
		} else {
			r = flate.NewReader(br)
		}
	case "br":
		r = brotli.NewReader(body)
	default:
		return nil, errUninspectable{encoding: enc}
	}
	return struct {
		io.Reader
		io.Closer
	}{r, body}, nil
}

// maskResponse puts the masker between the upstream's body and the agent.
// It masks the first piece before returning, so that a masker that does
// not answer is a clean 503 rather than a cut-off body.
func (s *Server) maskResponse(resp *http.Response, cn *connection, st *requestState) error {
	if !cn.masking || resp.Body == nil || resp.Body == http.NoBody ||
		resp.Request.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || (resp.StatusCode >= 100 && resp.StatusCode < 200) ||
		!maskstream.Scannable(resp.Header.Get("Content-Type"), s.cfgMasking.ScanBinary) {
		return nil
	}
	decoded, err := decodeBody(resp)
	if err != nil {
		return err
	}
	mr := s.masker.NewReader(resp.Request.Context(), cn.name, st.id(), resp.Header.Get("Content-Type"), decoded)
	if err := mr.Start(); err != nil {
		_ = mr.Close()
		return err
	}
	st.masking = mr
	// The recorder gets what the agent got, masked, up to the inspect
	// limit; kept off the request path (publishResponse).
	st.recorded = &capture{limit: int(s.cfg.InspectLimit)}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(newScrubReader(mr, cn.cred.echoes), st.recorded), mr}
	resp.ContentLength = -1
	for _, h := range []string{"Content-Length", "Content-Encoding", "Content-MD5", "Digest", "Repr-Digest", "Content-Digest"} {
		resp.Header.Del(h)
	}
	// The body the agent gets differs from the upstream's entity: a strong
	// validator no longer describes it.
	if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		resp.Header.Set("ETag", "W/"+etag)
	}
	return nil
}

// scanRequest sends the inspected request body through the masker: the
// bus gets the masked copy, policy the findings. The agent's own bytes are
// what is forwarded, if policy allows. The copy is shorter than inspected
// where bytes are not journaled (a binary body, a push's pack objects).
func (s *Server) scanRequest(ctx context.Context, r *http.Request, cn *connection, id string, inspected []byte, truncated bool) (carried []byte, findings []event.Finding, omitted int64, err error) {
	if !cn.masking || len(inspected) == 0 {
		return inspected, nil, 0, nil
	}
	ct := r.Header.Get("Content-Type")
	push := isGitPush(r, cn)
	if push {
		// Scanned as the push it is, whatever it is labelled.
		ct = receivePackRequest
	}
	if !maskstream.Scannable(ct, s.cfgMasking.ScanBinary) && !push {
		// Binary, so not scanned: not journaled either, or a secret in it
		// would reach the bus and the recording unmasked.
		return nil, nil, int64(len(inspected)), nil
	}
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		// Policy and the masker would see compressed bytes: refuse what
		// cannot be inspected.
		return nil, nil, 0, errUninspectable{encoding: enc, request: true}
	}
	if len(inspected) <= s.masker.WholeLimit {
		ans, err := s.masker.Whole(ctx, cn.name, maskstream.Piece{RequestID: id, Direction: maskstream.Request,
			ContentType: ct, Truncated: truncated, Data: inspected})
		if err != nil {
			return nil, nil, 0, err
		}
		carried, findings = ans.Data, ans.Findings
	} else {
		mr := s.masker.NewRequestReader(ctx, cn.name, id, ct, truncated, io.NopCloser(bytes.NewReader(inspected)))
		if carried, err = io.ReadAll(mr); err != nil {
			return nil, nil, 0, err
		}
		findings = mr.Findings()
	}
	if push {
		// The masker answers a push with its commands and pack header
		// only: the pack's objects are not journaled.
		omitted = int64(len(inspected) - len(carried))
	}
	return carried, findings, omitted, nil
}

// receivePackRequest is the media type of a git push's body.
const receivePackRequest = "application/x-git-receive-pack-request"

// isGitPush says whether a request is a git push: labelled as one, or, on
// a git connection, a POST whose path names git-receive-pack in any
// spelling, which is what policy judges a push by. A push labelled
// otherwise, or not at all, is still scanned as one: a pack the masker
// cannot read is refused (airlock-push-unscanned), never passed on as
// text or as a binary body nobody looked into.
func isGitPush(r *http.Request, cn *connection) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == receivePackRequest {
		return true
	}
	if cn.typ != config.TypeGit || r.Method != http.MethodPost {
		return false
	}
	path := r.URL.EscapedPath()
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	return strings.Contains(strings.ToLower(path), "git-receive-pack")
}

// maskingRefusal is the refusal for a masking failure.
func maskingRefusal(err error, id string) (int, refusal) {
	var un errUninspectable
	switch {
	case errors.As(err, &un) && un.request:
		return http.StatusUnsupportedMediaType, refusal{Error: errUninspectableBody, Reason: un.Error(), RequestID: id}
	case errors.As(err, &un):
		return http.StatusBadGateway, refusal{Error: errUninspectableBody, Reason: un.Error(), RequestID: id}
	case errors.Is(err, maskstream.ErrUnavailable):
		return http.StatusServiceUnavailable, refusal{Error: errMaskerUnavailable,
			Reason: "the masker did not answer: the body is withheld rather than passed unmasked", RequestID: id}
	}
	return http.StatusBadGateway, refusal{Error: errMaskingFailed, Reason: "the body could not be masked: withheld", RequestID: id}
}

// secretsFound tells the agent which secrets the masker found in what it
// sent (rule and place, never the value), so that it can take them out.
func secretsFound(fs []event.Finding) string {
	if len(fs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (found: ")
	for i, f := range fs {
		if i == 5 {
			fmt.Fprintf(&b, ", and %d more", len(fs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Rule + " at " + f.Location)
	}
	b.WriteString(")")
	return b.String()
}

// capture keeps the first limit bytes written to it.
type capture struct {
	limit     int
	data      []byte
	truncated bool
}

// Write keeps what fits and reports all of p written: the agent's copy
// must not suffer for the recorder's.
func (c *capture) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.limit - len(c.data); n > room {
		c.truncated = true
		p = p[:max(room, 0)]
	}
	c.data = append(c.data, p...)
	return n, nil
}
