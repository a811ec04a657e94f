package ingress

import (
	"errors"
)

// Errors of Ready.
var (
	errBusDisconnected = errors.New("bus disconnected")
	errNotSubscribed   = errors.New("not subscribed to verdicts")
	errDraining        = errors.New("draining: shutting down")
)

// Ready reports whether the ingress can decide requests: its bus
// connection is up and its verdict subscription active.
func (s *Server) Ready() error {
	select {
	case <-s.draining:
		return errDraining
	default:
	}
	if !s.nc.IsConnected() {
		return errBusDisconnected
	}
	if !s.sub.IsValid() || !s.decSub.IsValid() {
		return errNotSubscribed
	}
	return nil
}
