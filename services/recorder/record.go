package recorder

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
)

// Record is one exchange, as the recorder keeps it: every event of the
// request, bodies masked (the bus never carries them otherwise).
type Record struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// Session groups the exchanges of one agent's work: the agent's
	// X-Airlock-Session header, else its identity and connection in the
	// same hour.
	Session    string    `json:"session"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"`
	Identity   string    `json:"identity"`
	// Complete is false for a request whose response event never came
	// (the ingress went away): recorded with what there is.
	Complete  bool             `json:"complete"`
	Request   *event.Request   `json:"request,omitempty"`
	Verdict   *event.Verdict   `json:"verdict,omitempty"`
	Approvals []event.Approval `json:"approvals,omitempty"`
	Decision  *event.Decision  `json:"decision,omitempty"`
	Response  *event.Response  `json:"response,omitempty"`
	// Missing names bodies the object store no longer had when the record
	// was written.
	Missing []string `json:"missing,omitempty"`
}

// SessionHeader names an agent's own session.
const SessionHeader = "X-Airlock-Session"

var sessionName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// session is the request's session id: the agent's header when it is a
// plain name, else one per identity, connection and hour, so that a
// recorder started again puts an exchange where the last one would have.
func session(req *event.Request) string {
	if hs := req.Headers[SessionHeader]; len(hs) > 0 && sessionName.MatchString(hs[0]) {
		return "a-" + hs[0]
	}
	sum := sha256.Sum256([]byte(req.Identity.Subject + "\x00" + req.Connection))
	return "s-" + req.Time.UTC().Format("2006010215") + "-" + hex.EncodeToString(sum[:6])
}

// SessionsPrefix is where records live.
const SessionsPrefix = "sessions/"

// Key is where a record lives: by connection (its retention is a
// lifecycle rule on that prefix), date, session, then request id (a ULID:
// the keys of a session sort in time order).
func (r *Record) Key() string {
	return fmt.Sprintf("%s%s/%s/%s/%s.json.gz", SessionsPrefix, subject.Token(r.Connection), r.Time.UTC().Format("2006/01/02"), r.Session, r.ID)
}

// gzips are reused: a new gzip.Writer costs more than the record it
// compresses (its tables are allocated afresh each time).
var gzips = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// encode is the record as one gzip-compressed JSON line.
func (r *Record) encode() ([]byte, error) {
	var b bytes.Buffer
	zw := gzips.Get().(*gzip.Writer)
	defer gzips.Put(zw)
	zw.Reset(&b)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding record %s: %w", r.ID, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing record %s: %w", r.ID, err)
	}
	return b.Bytes(), nil
}

// DecodeRecord reads a record object.
func DecodeRecord(data []byte) (*Record, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading record: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decoding record: %w", err)
	}
	return &r, nil
}

// add puts an event, by the kind its subject names, into the record.
func (r *Record) add(kind string, data []byte) error {
	switch kind {
	case "request":
		var v event.Request
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		r.Request, r.Time, r.Connection, r.Identity = &v, v.Time, v.Connection, v.Identity.Subject
		r.Session = session(&v)
	case "verdict":
		var v event.Verdict
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		r.Verdict = &v
	case "approval":
		var v event.Approval
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		// A late event merged into a written record may be one it holds.
		if !slices.ContainsFunc(r.Approvals, func(a event.Approval) bool { return reflect.DeepEqual(a, v) }) {
			r.Approvals = append(r.Approvals, v)
		}
	case "decision":
		var v event.Decision
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		r.Decision = &v
	case "response":
		var v event.Response
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		r.Response = &v
	}
	return nil
}
