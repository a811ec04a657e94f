package policy

import (
	"errors"
)

// Errors of Ready.
var (
	errBusDisconnected = errors.New("bus disconnected")
	errNotConsuming    = errors.New("not consuming request events")
)

// Ready reports whether the service decides requests: its bus connection
// is up and it is consuming its durable consumer.
func (s *Service) Ready() error {
	if !s.js.Conn().IsConnected() {
		return errBusDisconnected
	}
	if !s.consuming.Load() {
		return errNotConsuming
	}
	return nil
}
