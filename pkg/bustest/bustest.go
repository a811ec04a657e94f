// Package bustest starts a real, embedded nats-server with JetStream for
// tests, on a random loopback port with its store in a temp dir, and
// provisions Airlock's streams on it.
package bustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
)

// Server is a provisioned test server.
type Server struct {
	*server.Server
	// URL is the server's client URL.
	URL string
}

// Start starts a server, provisions the streams, and shuts it down when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.Embedded{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("starting nats: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	s := &Server{Server: ns, URL: ns.ClientURL()}
	_, js := s.Connect(t, "bustest-provision")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, js, bus.Limits{}); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return s
}

// Connect returns a connection to s that is closed when the test ends.
func (s *Server) Connect(t testing.TB, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := bus.Connect(s.URL, nil, name, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connecting to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
