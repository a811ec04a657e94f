// Package recorder is Airlock's recorder: it writes every exchange — the
// request, verdict, approvals, decision and response events of a request,
// bodies masked — as one record per request to an object store (MinIO or
// any S3 store; a JetStream object store bucket for `airlock up`), grouped
// into sessions; and it chains the audit stream's events, each carrying
// the hash of the one before, into the same store, so that an edited or
// deleted record is found (Verify).
//
// A message is acked only after the object holding it is written. When
// the store is down, the events wait in JetStream and are written when it
// returns; a record is written under a key its request id decides, so a
// redelivery rewrites the same object rather than adding one.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// Timings of the recorder.
const (
	// CompleteAfter is how long a request's events wait for its response
	// event before the record is written without it.
	CompleteAfter = 2 * time.Minute
	// RetryAfter is how soon events whose object could not be written are
	// delivered again.
	RetryAfter = 2 * time.Second
	// ProgressEvery is how often the events of a record still waiting for
	// its response are marked in progress (the consumer's ack wait is
	// longer).
	ProgressEvery = 10 * time.Second
)

// Service records exchanges.
type Service struct {
	js     jetstream.JetStream
	bodies *bus.Bodies
	store  store.Store
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time
	// completeAfter is CompleteAfter, shorter in tests.
	completeAfter time.Duration

	mu      sync.Mutex
	pending map[string]*pendingRecord
	// written are the records this replica wrote lately, or is writing, by
	// request id: where a late event (redelivered after another replica
	// died holding it, once the record was written without it) is merged
	// in.
	written map[string]writtenRecord

	// writers holds a token per record being written (Writers at most);
	// writing counts them, for Run to wait on when it stops.
	writers chan struct{}
	writing sync.WaitGroup
}

type writtenRecord struct {
	key string
	at  time.Time
}

// WrittenFor is how long a written record's key is remembered for late
// events: they come after the ack wait of the replica that held them.
const WrittenFor = 3 * bus.RecorderAckWait

type pendingRecord struct {
	rec        Record
	msgs       []jetstream.Msg
	first      time.Time
	progressed time.Time
	// late: the record was written already; these events are merged into
	// it at the next tick.
	late bool
}

// New returns a recorder writing to st; m may be nil.
func New(js jetstream.JetStream, st store.Store, log *slog.Logger, m *Metrics) *Service {
	return &Service{js: js, bodies: bus.NewBodies(js), store: st, log: log, m: m, now: time.Now, completeAfter: CompleteAfter, pending: map[string]*pendingRecord{}, written: map[string]writtenRecord{}, writers: make(chan struct{}, Writers)}
}

// kinds maps each subject family of the AIRLOCK stream to its event.
var kinds = []struct{ prefix, kind string }{
	{subject.RequestPrefix, "request"},
	{subject.VerdictPrefix, "verdict"},
	{subject.ApprovalPrefix, "approval"},
	{subject.DecisionPrefix, "decision"},
	{subject.ResponsePrefix, "response"},
}

// kindOf returns an AIRLOCK subject's event kind and request id.
func kindOf(subj string) (kind, id string, ok bool) {
	for _, k := range kinds {
		if rest, found := strings.CutPrefix(subj, k.prefix); found {
			// airlock.req.<conn>.<id>: the id is the last token.
			if i := strings.LastIndexByte(rest, '.'); i >= 0 {
				rest = rest[i+1:]
			}
			return k.kind, rest, rest != ""
		}
	}
	return "", "", false
}

// Run records the AIRLOCK stream's events until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	cons, err := s.js.Consumer(ctx, subject.Stream, subject.RecorderConsumer)
	if err != nil {
		return fmt.Errorf("binding to consumer %s: %w", subject.RecorderConsumer, err)
	}
	msgs := make(chan jetstream.Msg, 64)
	stopped := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-stopped:
			_ = m.Nak()
		}
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consuming %s: %w", subject.Stream, err)
	}
	s.log.Info("recorder consuming", "stream", subject.Stream, "consumer", subject.RecorderConsumer)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// Hand back what is in hand, so that it is delivered again at
			// once rather than after the ack wait.
			close(stopped)
			cc.Stop()
			for {
				select {
				case m := <-msgs:
					_ = m.Nak()
					continue
				default:
				}
				break
			}
			s.abandon()
			s.writing.Wait()
			return ctx.Err()
		case m := <-msgs:
			s.take(ctx, m)
		case <-tick.C:
			s.flushStale(ctx)
			s.measureLag(ctx, cons)
		}
	}
}

// take adds a message to its request's record, and writes the record when
// the response event has come.
func (s *Service) take(ctx context.Context, m jetstream.Msg) {
	kind, id, ok := kindOf(m.Subject())
	if !ok {
		_ = m.Ack()
		return
	}
	s.mu.Lock()
	p := s.pending[id]
	if p == nil {
		_, late := s.written[id]
		p = &pendingRecord{rec: Record{V: 1, ID: id}, first: s.now(), progressed: s.now(), late: late}
		s.pending[id] = p
	}
	s.mu.Unlock()
	if err := p.rec.add(kind, m.Data()); err != nil {
		s.log.Error("discarding a malformed event", "subject", m.Subject(), "err", err)
		_ = m.Ack()
		return
	}
	p.msgs = append(p.msgs, m)
	// Redelivered events may come in any order: the record is whole when
	// it has both ends.
	if !p.late && p.rec.Request != nil && p.rec.Response != nil {
		p.rec.Complete = true
		s.write(ctx, p)
	}
}

// flushStale writes the records whose response never came; events with
// no request event (a late click on a decided approval) are dropped. The
// events of records still waiting are marked in progress, so that the ack
// wait stays short: a recorder that dies has its events delivered again
// soon.
func (s *Service) flushStale(ctx context.Context) {
	s.mu.Lock()
	var stale, late []*pendingRecord
	now := s.now()
	for id, w := range s.written {
		if now.Sub(w.at) > WrittenFor {
			delete(s.written, id)
		}
	}
	for _, p := range s.pending {
		switch {
		case p.late:
			late = append(late, p)
		case now.Sub(p.first) >= s.completeAfter:
			stale = append(stale, p)
		case now.Sub(p.progressed) >= ProgressEvery:
			for _, m := range p.msgs {
				_ = m.InProgress()
			}
			p.progressed = now
		}
	}
	s.mu.Unlock()
	for _, p := range late {
		s.merge(ctx, p)
	}
	for _, p := range stale {
		if p.rec.Request == nil {
			for _, m := range p.msgs {
				_ = m.Ack()
			}
			s.forget(p)
			continue
		}
		s.write(ctx, p)
	}
}

// Writers is how many records are written to the store at once: one at a
// time, the store's round trip (a MinIO PUT, 1–3 ms) held the recorder
// below the rate a 2-core gateway serves, and the events it had not yet
// written piled up in the stream.
const Writers = 32

// write hands the record to a writer, waiting while Writers are busy. The
// record leaves pending and is marked written first: an event for it that
// arrives meanwhile is merged into the stored record (merge), never added
// to the one being encoded.
func (s *Service) write(ctx context.Context, p *pendingRecord) {
	key := p.rec.Key()
	s.mu.Lock()
	if s.pending[p.rec.ID] == p {
		delete(s.pending, p.rec.ID)
	}
	s.written[p.rec.ID] = writtenRecord{key: key, at: s.now()}
	s.mu.Unlock()
	s.writers <- struct{}{}
	s.writing.Add(1)
	go func() {
		defer func() {
			<-s.writers
			s.writing.Done()
		}()
		s.put(ctx, p, key)
	}()
}

// put puts the record in the store, then acks its events; when the store
// refuses, the events are delivered again a little later.
func (s *Service) put(ctx context.Context, p *pendingRecord, key string) {
	start := time.Now()
	err := s.fetchBodies(ctx, &p.rec)
	var data []byte
	if err == nil {
		data, err = p.rec.encode()
	}
	if err == nil {
		err = s.store.Put(ctx, key, data)
	}
	if err != nil {
		s.m.recorded("retried", time.Since(start))
		s.log.Warn("record not written: its events wait in JetStream", "request_id", p.rec.ID, "err", err)
		s.mu.Lock()
		delete(s.written, p.rec.ID)
		s.mu.Unlock()
		for _, m := range p.msgs {
			_ = m.NakWithDelay(RetryAfter)
		}
		return
	}
	s.m.recorded("written", time.Since(start))
	// A lost ack means a redelivery, which rewrites the same object: no
	// need to wait for the server to confirm each one.
	for _, m := range p.msgs {
		_ = m.Ack()
	}
}

// measureLag sets the lag gauge from the consumer's state; when the server
// does not answer within a second, the gauge keeps its last value.
func (s *Service) measureLag(ctx context.Context, cons jetstream.Consumer) {
	if s.m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := cons.Info(ctx); err == nil {
		s.m.lagging(info.NumPending + uint64(info.NumAckPending))
	}
}

// merge adds late events to the record already in the store, and writes
// it again. When the store cannot be read, the events are delivered again
// a little later, as for any write.
func (s *Service) merge(ctx context.Context, p *pendingRecord) {
	s.mu.Lock()
	w := s.written[p.rec.ID]
	s.mu.Unlock()
	rec, err := readRecord(ctx, s.store, w.key)
	if err != nil {
		defer s.forget(p)
		s.log.Warn("late events not merged: they wait in JetStream", "request_id", p.rec.ID, "err", err)
		for _, m := range p.msgs {
			_ = m.NakWithDelay(RetryAfter)
		}
		return
	}
	for _, m := range p.msgs {
		kind, _, _ := kindOf(m.Subject())
		if err := rec.add(kind, m.Data()); err != nil {
			s.log.Error("discarding a malformed event", "subject", m.Subject(), "err", err)
		}
	}
	rec.Complete = rec.Request != nil && rec.Response != nil
	s.log.Info("late events merged into their record", "request_id", p.rec.ID, "events", len(p.msgs))
	p.rec = *rec
	s.write(ctx, p)
}

// fetchBodies puts the bodies the events keep in the object store into the
// record: a recording must stand without the bus (whose bodies expire).
// A body already expired is recorded as missing.
func (s *Service) fetchBodies(ctx context.Context, r *Record) error {
	var bodies []*event.Body
	if r.Request != nil && r.Request.Body != nil {
		bodies = append(bodies, r.Request.Body)
	}
	if r.Response != nil && r.Response.Body != nil {
		bodies = append(bodies, r.Response.Body)
	}
	for _, b := range bodies {
		if b.Object == "" || b.Inline != nil {
			continue
		}
		data, err := s.bodies.Get(ctx, b.Object)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound):
			r.Missing = append(r.Missing, b.Object)
		case err != nil:
			return fmt.Errorf("reading body %s: %w", b.Object, err)
		default:
			b.Inline = data
		}
	}
	return nil
}

func (s *Service) forget(p *pendingRecord) {
	s.mu.Lock()
	if s.pending[p.rec.ID] == p {
		delete(s.pending, p.rec.ID)
	}
	s.mu.Unlock()
}

// abandon hands the unwritten records' events back to JetStream.
func (s *Service) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.pending {
		for _, m := range p.msgs {
			_ = m.Nak()
		}
		delete(s.pending, id)
	}
}
