package maskstream

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airlockhq/airlock/pkg/subject"
)

// Handler masks one piece. An error is sent back as the answer: the
// ingress then refuses the body.
type Handler func(Piece) (Masked, error)

// Server answers pieces for every connection in the masker's queue group.
type Server struct {
	sub *nats.Subscription
	sem chan struct{}
}

// Serve subscribes h to every connection's mask subject, in the queue
// group, answering up to two pieces per CPU at once; more wait in the
// subscription.
func Serve(nc *nats.Conn, h Handler, log *slog.Logger) (*Server, error) {
	s := &Server{sem: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	sub, err := nc.QueueSubscribe(subject.MaskPrefix+">", subject.MaskQueue, func(m *nats.Msg) {
		s.sem <- struct{}{}
		go func() {
			defer func() { <-s.sem }()
			s.answer(m, h, log)
		}()
	})
	if err != nil {
		return nil, err
	}
	// Pieces are up to a whole-body limit each: let a burst wait rather
	// than be dropped as a slow consumer (the ingress would time out and
	// refuse).
	if err := sub.SetPendingLimits(-1, 512<<20); err != nil {
		return nil, err
	}
	// The server knows the subscription once the flush returns: only then
	// can a request find a responder.
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	s.sub = sub
	return s, nil
}

// IsValid reports whether the server is still subscribed.
func (s *Server) IsValid() bool { return s.sub.IsValid() }

func (s *Server) answer(m *nats.Msg, h Handler, log *slog.Logger) {
	if m.Reply == "" {
		return
	}
	p, err := decodePiece(m)
	var reply *nats.Msg
	if err != nil {
		log.Warn("refusing a malformed piece", "subject", m.Subject, "err", err)
		reply = encodeError(err.Error())
	} else if ans, err := h(p); err != nil {
		log.Warn("masking failed", "request_id", p.RequestID, "direction", p.Direction, "err", err)
		reply = encodeError(err.Error())
	} else if reply, err = encodeMasked(ans); err != nil {
		reply = encodeError(err.Error())
	}
	reply.Subject = m.Reply
	if err := m.RespondMsg(reply); err != nil {
		log.Warn("answering a piece", "request_id", p.RequestID, "err", err)
	}
}

// Drain stops taking pieces and answers those taken.
func (s *Server) Drain() error {
	if err := s.sub.Drain(); err != nil {
		return err
	}
	// Drain returns at once; the subscription closes when the pieces
	// already delivered have been handed to answer.
	for deadline := time.Now().Add(30 * time.Second); s.sub.IsValid() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for range cap(s.sem) {
		s.sem <- struct{}{}
	}
	for range cap(s.sem) {
		<-s.sem
	}
	return nil
}
