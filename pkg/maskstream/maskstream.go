// Package maskstream is the wire between the ingress and the masker: NATS
// request-reply on subject.Mask(conn), in the masker's queue group, one
// message per piece of a body.
//
// Neither side keeps state between messages. The ingress holds the
// stream's state (the bytes not yet masked, and the context before them)
// and sends it with each piece; the masker masks what it can and says where
// the next piece starts. So any free masker replica can take any piece, a
// restarted masker loses nothing, and the ingress's memory per body is
// bounded (about Reach + Chunk) whatever the body's size.
//
// A body that fits in one message (Chunk.Final on the first piece) is a
// whole document: the masker may then parse it (JSON field rules, the
// base64 `content` of GitHub's contents API). Larger bodies are masked as
// text, piece by piece.
package maskstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/airlockhq/airlock/pkg/event"
)

// Directions of a body.
const (
	// Response bodies come back from the upstream: masked before the agent
	// sees them.
	Response = "response"
	// Request bodies go out from the agent: the findings go to policy, the
	// masked copy to the bus.
	Request = "request"
)

// Headers of a piece and of its answer.
const (
	hdrRequestID   = "Airlock-Request-Id"
	hdrDirection   = "Airlock-Direction"
	hdrContentType = "Airlock-Content-Type"
	hdrOffset      = "Airlock-Offset"
	hdrKeep        = "Airlock-Keep"
	hdrFinal       = "Airlock-Final"
	hdrTruncated   = "Airlock-Truncated"

	hdrUpTo     = "Airlock-Up-To"
	hdrNext     = "Airlock-Next"
	hdrFindings = "Airlock-Findings"
	hdrError    = "Airlock-Error"
)

// Piece is one message to the masker: the bytes it should mask and the
// context before them.
type Piece struct {
	RequestID   string
	Direction   string
	ContentType string
	// Offset is where Data starts in the whole body.
	Offset int64
	// Keep is how many leading bytes of Data were masked and sent before:
	// context only.
	Keep int
	// Final is true when Data ends the body.
	Final bool
	// Truncated is true when the body went on past what the ingress
	// inspected: the masker saw only part of it.
	Truncated bool
	Data      []byte
}

// Whole is true when the piece is the entire body.
func (p Piece) Whole() bool { return p.Final && p.Offset == 0 && p.Keep == 0 }

// Masked is the masker's answer to a Piece.
type Masked struct {
	// Data is the piece's bytes from Keep to UpTo, masked.
	Data []byte
	// UpTo is how far into the piece Data reaches; Final pieces are masked
	// to their end.
	UpTo int
	// Next is where the next piece starts in this one: the bytes from Next
	// to UpTo are its context, those from UpTo on are still to be masked.
	Next int
	// Findings are the secrets masked in this piece.
	Findings []event.Finding
}

// Error is a failure the masker reports in its answer.
type Error struct{ Reason string }

func (e *Error) Error() string { return "masker: " + e.Reason }

func encodePiece(subj string, p Piece) *nats.Msg {
	m := nats.NewMsg(subj)
	m.Data = p.Data
	m.Header.Set(hdrRequestID, p.RequestID)
	m.Header.Set(hdrDirection, p.Direction)
	m.Header.Set(hdrContentType, p.ContentType)
	m.Header.Set(hdrOffset, strconv.FormatInt(p.Offset, 10))
	m.Header.Set(hdrKeep, strconv.Itoa(p.Keep))
	if p.Final {
		m.Header.Set(hdrFinal, "1")
	}
	if p.Truncated {
		m.Header.Set(hdrTruncated, "1")
	}
	return m
}

func decodePiece(m *nats.Msg) (Piece, error) {
	p := Piece{
		RequestID:   m.Header.Get(hdrRequestID),
		Direction:   m.Header.Get(hdrDirection),
		ContentType: m.Header.Get(hdrContentType),
		Final:       m.Header.Get(hdrFinal) == "1",
		Truncated:   m.Header.Get(hdrTruncated) == "1",
		Data:        m.Data,
	}
	var err error
	if p.Offset, err = strconv.ParseInt(m.Header.Get(hdrOffset), 10, 64); err != nil || p.Offset < 0 {
		return p, fmt.Errorf("bad %s header", hdrOffset)
	}
	if p.Keep, err = strconv.Atoi(m.Header.Get(hdrKeep)); err != nil || p.Keep < 0 || p.Keep > len(p.Data) {
		return p, fmt.Errorf("bad %s header", hdrKeep)
	}
	if p.Direction != Response && p.Direction != Request {
		return p, fmt.Errorf("bad %s header %q", hdrDirection, p.Direction)
	}
	return p, nil
}

func encodeMasked(r Masked) (*nats.Msg, error) {
	m := nats.NewMsg("")
	m.Data = r.Data
	m.Header.Set(hdrUpTo, strconv.Itoa(r.UpTo))
	m.Header.Set(hdrNext, strconv.Itoa(r.Next))
	if len(r.Findings) > 0 {
		f, err := json.Marshal(r.Findings)
		if err != nil {
			return nil, fmt.Errorf("encoding findings: %w", err)
		}
		m.Header.Set(hdrFindings, string(f))
	}
	return m, nil
}

func encodeError(reason string) *nats.Msg {
	m := nats.NewMsg("")
	m.Header.Set(hdrError, reason)
	return m
}

// decodeMasked reads an answer to p, checking that it is one: a masker
// that answers out of range must not make the ingress send raw bytes.
func decodeMasked(m *nats.Msg, p Piece) (Masked, error) {
	if m.Header == nil {
		return Masked{}, errors.New("masker answer without headers")
	}
	if reason := m.Header.Get(hdrError); reason != "" {
		return Masked{}, &Error{Reason: reason}
	}
	var r Masked
	var err error
	if r.UpTo, err = strconv.Atoi(m.Header.Get(hdrUpTo)); err != nil {
		return r, fmt.Errorf("bad %s in masker answer", hdrUpTo)
	}
	if r.Next, err = strconv.Atoi(m.Header.Get(hdrNext)); err != nil {
		return r, fmt.Errorf("bad %s in masker answer", hdrNext)
	}
	if r.UpTo < p.Keep || r.UpTo > len(p.Data) || (p.Final && r.UpTo != len(p.Data)) || r.Next < 0 || r.Next > r.UpTo {
		return r, fmt.Errorf("masker answer out of range (up to %d, next %d, piece %d+%d)", r.UpTo, r.Next, p.Keep, len(p.Data)-p.Keep)
	}
	if f := m.Header.Get(hdrFindings); f != "" {
		if err := json.Unmarshal([]byte(f), &r.Findings); err != nil {
			return r, fmt.Errorf("decoding masker findings: %w", err)
		}
	}
	r.Data = m.Data
	return r, nil
}

// MaybeDocument says whether a body of media type mediaType that starts
// with head may be masked as a JSON document (field rules, base64
// contents): a JSON media type, or a body whose first non-blank byte
// opens an object or an array, since clients label JSON as anything (curl
// -d says form data). The masker tries such a body as a document when it
// comes whole, and masks the rest as text; the client sends only such a
// body whole, and streams the rest in pieces.
func MaybeDocument(mediaType string, head []byte) bool {
	if mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") {
		return true
	}
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) > 0 && (head[0] == '{' || head[0] == '[')
}
