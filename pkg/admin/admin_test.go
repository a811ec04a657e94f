package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// freePort is a port nothing listens on, for a listener started later.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestProbe starts a real admin listener on every interface, as in a
// container, and probes it by each spelling of its address: ready, not
// ready with the service's reason, and nothing listening.
func TestProbe(t *testing.T) {
	port := freePort(t)
	var unready atomic.Value
	unready.Store("")
	ready := func() error {
		if r := unready.Load().(string); r != "" {
			return errors.New(r)
		}
		return nil
	}
	srv, err := Start("0.0.0.0:"+port, NewRegistry(), ready, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	ctx := context.Background()
	for _, addr := range []string{"127.0.0.1:" + port, "0.0.0.0:" + port, "[::]:" + port, ":" + port} {
		if err := Probe(ctx, addr); err != nil {
			t.Errorf("Probe(%q) on a ready service: %v", addr, err)
		}
	}

	unready.Store("not connected to NATS")
	err = Probe(ctx, "0.0.0.0:"+port)
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: not connected to NATS") {
		t.Errorf("Probe on an unready service = %v, want the status and the reason", err)
	}

	for _, addr := range []string{"127.0.0.1:" + freePort(t), "none", "9092"} {
		if err := Probe(ctx, addr); err == nil {
			t.Errorf("Probe(%q) = nil, want an error", addr)
		}
	}
}

func TestProbeAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"127.0.0.1:9092", "127.0.0.1:9092"},
		{"0.0.0.0:9092", "127.0.0.1:9092"},
		{"[::]:9092", "127.0.0.1:9092"},
		{":9092", "127.0.0.1:9092"},
		{"localhost:9092", "localhost:9092"},
		{"10.0.0.7:9092", "10.0.0.7:9092"},
		{"[::1]:9092", "[::1]:9092"},
	} {
		got, err := probeAddr(c.in)
		if err != nil || got != c.want {
			t.Errorf("probeAddr(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
