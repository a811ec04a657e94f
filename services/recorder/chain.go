package recorder

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// A link is one audit event in the chain: its place in the AIRLOCK_AUDIT
// stream, the hash of the link before it, and its own hash over both and
// the event's bytes. Editing, removing or reordering an event breaks the
// hash of every link after it.
type link struct {
	Seq   uint64          `json:"seq"`
	Prev  string          `json:"prev"`
	Hash  string          `json:"hash"`
	Event json.RawMessage `json:"event"`
}

// genesis is the hash before the first link.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

func linkHash(prev string, seq uint64, ev []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write([]byte(strconv.FormatUint(seq, 10)))
	h.Write([]byte{'\n'})
	h.Write(ev)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditPrefix is where the chain's segments live.
const AuditPrefix = "audit/"

// segmentKey names a segment by the date and the sequence of its first
// link, zero-padded: the keys sort in chain order.
func segmentKey(t time.Time, first uint64) string {
	return fmt.Sprintf("%s%s/%020d.jsonl.gz", AuditPrefix, t.UTC().Format("2006/01/02"), first)
}

// ChainBatch is the most audit events one segment holds.
const ChainBatch = 500

// Chain writes the audit stream into the store as a hash chain, a segment
// per batch, in stream order.
type Chain struct {
	js    jetstream.JetStream
	store store.Store
	log   interface {
		Info(string, ...any)
		Warn(string, ...any)
	}
	prev    string
	lastSeq uint64
	// m counts the events chained; nil counts nothing.
	m *Metrics
}

// NewChain returns a chain writer that resumes after the last segment in
// the store.
func NewChain(ctx context.Context, js jetstream.JetStream, st store.Store, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) (*Chain, error) {
	c := &Chain{js: js, store: st, log: log, prev: genesis}
	keys, err := st.List(ctx, AuditPrefix)
	if err != nil {
		return nil, fmt.Errorf("reading the audit chain: %w", err)
	}
	if len(keys) > 0 {
		links, err := readSegment(ctx, st, keys[len(keys)-1])
		if err != nil {
			return nil, err
		}
		if n := len(links); n > 0 {
			c.prev, c.lastSeq = links[n-1].Hash, links[n-1].Seq
		}
	}
	return c, nil
}

// Run chains audit events until ctx ends. It reads the stream with an
// ordered consumer from the event after the last one chained: the chain in
// the store is the cursor, so a segment is never written twice nor an
// event skipped, whatever happened to the recorder before.
func (c *Chain) Run(ctx context.Context) error {
	c.log.Info("chaining the audit stream", "after", c.lastSeq)
	for ctx.Err() == nil {
		// A bounded number of resets: the ordered consumer otherwise
		// retries for ever after a bus restart, deaf to ctx; this loop
		// starts it again from the last link instead.
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, MaxResetAttempts: 3}
		if c.lastSeq > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, c.lastSeq+1
		}
		cons, err := c.js.OrderedConsumer(ctx, subject.AuditStream, cfg)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("reading the audit stream", "err", err)
				sleep(ctx, RetryAfter)
			}
			continue
		}
		c.follow(ctx, cons)
	}
	return ctx.Err()
}

// follow chains what cons delivers until a segment cannot be written (the
// caller starts again from the last link) or ctx ends.
func (c *Chain) follow(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(ChainBatch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("fetching audit events", "err", err)
				sleep(ctx, RetryAfter)
			}
			return
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := c.append(ctx, msgs); err != nil {
			c.log.Warn("audit segment not written: the events wait in JetStream", "err", err)
			sleep(ctx, RetryAfter)
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// append writes msgs (those not chained yet) as one segment.
func (c *Chain) append(ctx context.Context, msgs []jetstream.Msg) error {
	prev, last := c.prev, c.lastSeq
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	enc := json.NewEncoder(zw)
	var first uint64
	var firstTime time.Time
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("reading audit event metadata: %w", err)
		}
		seq := md.Sequence.Stream
		if seq <= last {
			continue // redelivered, already chained
		}
		if first == 0 {
			first, firstTime = seq, md.Timestamp
		}
		l := link{Seq: seq, Prev: prev, Hash: linkHash(prev, seq, m.Data()), Event: json.RawMessage(m.Data())}
		if !json.Valid(m.Data()) {
			l.Event, _ = json.Marshal(string(m.Data())) // kept, as a string
			l.Hash = linkHash(prev, seq, l.Event)
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("encoding link %d: %w", seq, err)
		}
		prev, last = l.Hash, seq
	}
	if first == 0 {
		return nil
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := c.store.Put(ctx, segmentKey(firstTime, first), b.Bytes()); err != nil {
		return err
	}
	c.m.chain(int(last - c.lastSeq))
	c.prev, c.lastSeq = prev, last
	return nil
}

func readSegment(ctx context.Context, st store.Store, key string) ([]link, error) {
	data, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	var links []link
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l link
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", key, len(links)+1, err)
		}
		links = append(links, l)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return links, nil
}

// Broken is where the chain does not hold.
type Broken struct {
	// Key is the segment; Seq the audit event's sequence, 0 when the
	// segment as a whole is wrong (unreadable, or missing before it).
	Key    string
	Seq    uint64
	Reason string
}

func (b *Broken) Error() string {
	if b.Seq == 0 {
		return fmt.Sprintf("audit chain broken at %s: %s", b.Key, b.Reason)
	}
	return fmt.Sprintf("audit chain broken at %s, event %d: %s", b.Key, b.Seq, b.Reason)
}

// Verify recomputes the chain in the store and returns how many links
// hold, or the first broken one (*Broken): an edited event, a deleted or
// reordered link or segment.
func Verify(ctx context.Context, st store.Store) (int, error) {
	keys, err := st.List(ctx, AuditPrefix)
	if err != nil {
		return 0, fmt.Errorf("listing the audit chain: %w", err)
	}
	prev, n := genesis, 0
	var last uint64
	for _, key := range keys {
		if !strings.HasSuffix(key, ".jsonl.gz") {
			continue
		}
		links, err := readSegment(ctx, st, key)
		if err != nil {
			return n, &Broken{Key: key, Reason: err.Error()}
		}
		for _, l := range links {
			switch {
			case l.Prev != prev:
				return n, &Broken{Key: key, Seq: l.Seq, Reason: "its link to the event before does not match: an event or segment before it was removed or changed"}
			case l.Seq <= last:
				return n, &Broken{Key: key, Seq: l.Seq, Reason: "out of order"}
			case linkHash(l.Prev, l.Seq, l.Event) != l.Hash:
				return n, &Broken{Key: key, Seq: l.Seq, Reason: "the event was changed: its hash does not match"}
			}
			prev, last = l.Hash, l.Seq
			n++
		}
	}
	return n, nil
}
