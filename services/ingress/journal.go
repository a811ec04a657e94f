package ingress

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
)

// The events written after the agent has its answer (the response and
// audit events) are journaled without holding the request. A publish whose
// ack fails — the stream's leader lost mid-ack, a cluster electing a new
// one, the server restarting — is sent again with the same message id, so
// the stream stores it once, until the retries would outlive the stream's
// duplicate window; only then is the event counted lost.
const (
	// publishAckTimeout bounds the wait for an async publish's ack: a
	// leader that died with the message never answers.
	publishAckTimeout = 5 * time.Second
	// republishFor is how long a failed event is retried: within the
	// duplicate window, so that a first attempt stored after all is not
	// stored twice.
	republishFor = bus.DuplicateWindow - 2*publishAckTimeout
	// republishBackoff is the first pause between retries; it doubles up
	// to a second.
	republishBackoff = 50 * time.Millisecond
)

// publishAsync journals an event without holding the request; a failure
// is retried by republish.
func (s *Server) publishAsync(subj, msgID string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding event", "subject", subj, "err", err)
		return
	}
	msg := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := s.js.PublishMsgAsync(msg); err != nil {
		s.onPublishError(nil, msg, err)
	}
}

// onPublishError is JetStream's handler for a failed async publish.
func (s *Server) onPublishError(_ jetstream.JetStream, m *nats.Msg, err error) {
	s.journal.Add(1)
	go func() {
		defer s.journal.Done()
		s.republish(m, err)
	}()
}

// republish sends m again, synchronously, until it is acked or
// republishFor has passed.
func (s *Server) republish(m *nats.Msg, first error) {
	msg := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
	id := m.Header.Get(jetstream.MsgIDHeader)
	deadline := time.Now().Add(republishFor)
	pause, err := republishBackoff, first
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		select {
		case <-s.closing:
			// Shutting down: one last try, below.
			deadline = time.Now()
		case <-time.After(pause):
		}
		ctx, cancel := context.WithTimeout(context.Background(), publishAckTimeout)
		_, err = s.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			s.metrics.journal.WithLabelValues("stored").Inc()
			s.log.Info("event journaled after a retry", "subject", m.Subject, "msg_id", id, "attempts", attempt, "first_err", first)
			return
		}
		pause = min(2*pause, time.Second)
	}
	s.metrics.journal.WithLabelValues("lost").Inc()
	s.log.Error("event lost: not journaled", "subject", m.Subject, "msg_id", id, "err", err)
}
