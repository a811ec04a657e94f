// Package admin serves every Airlock service's operator endpoints on a
// listener of their own, never the agents': /metrics, /healthz, /readyz.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics (g, in the Prometheus exposition format),
// /healthz (200 while the process serves) and /readyz (200 when ready
// returns nil, else 503 with the reason).
func Handler(g prometheus.Gatherer, ready func() error, opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	if o.profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			WriteStatus(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		WriteStatus(w, http.StatusOK, "ready")
	})
	return mux
}

// Option changes what Handler serves.
type Option func(*options)

type options struct{ profiling bool }

// Profiling serves Go's profiles under /debug/pprof/ when on (admin.pprof
// in the configuration). Off by default: a goroutine dump names every
// request in flight.
func Profiling(on bool) Option { return func(o *options) { o.profiling = on } }

// NewServer returns the admin listener's server. Its answers are small, so
// it has overall timeouts, unlike the agents' server.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// WriteStatus answers {"status": status} with code.
func WriteStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "{\"status\":%q}\n", status)
}

// NewRegistry returns a service's metrics registry with the Go runtime and
// process collectors registered.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Start serves g's metrics and ready's health on addr, in the background,
// and returns the server to close. An addr of "none" serves nothing and
// returns nil.
func Start(addr string, g prometheus.Gatherer, ready func() error, log *slog.Logger, opts ...Option) (*http.Server, error) {
	if addr == "none" {
		return nil, nil
	}
	srv := NewServer(addr, Handler(g, ready, opts...))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting admin listener: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String())
	return srv, nil
}

// ProbeTimeout bounds Probe: a health check that hangs is a failed one.
const ProbeTimeout = 2 * time.Second

// Probe asks the admin listener at addr whether its service is ready: GET
// /readyz within ProbeTimeout. It returns nil on 200, else an error naming
// the status and the reason the service gave. The probe runs beside the
// service (a container's health check), so an addr that binds every
// interface (0.0.0.0, [::], or no host) is probed on 127.0.0.1 at its
// port.
func Probe(ctx context.Context, addr string) error {
	if addr == "none" {
		return errors.New("the admin listener is off (none): nothing to probe")
	}
	target, err := probeAddr(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	url := "http://" + target + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	// No proxy from the environment: the service is on this host.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probing readiness: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var body struct {
		Status string `json:"status"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body) == nil && body.Status != "" {
		return fmt.Errorf("probing %s: %s: %s", url, resp.Status, body.Status)
	}
	return fmt.Errorf("probing %s: %s", url, resp.Status)
}

// probeAddr is where Probe reaches the listener bound to addr.
func probeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("admin address %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
