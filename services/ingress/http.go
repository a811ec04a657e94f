package ingress

import (
	"cmp"
	"net/http"
	"time"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/config"
)

// Limits of the agent-facing HTTP server. How long a client may take to
// send its headers (slowloris) is ingress.read_header_timeout.
const (
	// MaxHeaderBytes bounds request headers; larger get 431.
	MaxHeaderBytes = 64 << 10
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout = 120 * time.Second
)

// Handler serves /healthz and /readyz and sends everything else to s. It
// is no http.ServeMux on purpose: a mux cleans and redirects paths, and the
// path the agent sent is what policy must judge.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			switch r.URL.Path {
			case "/healthz":
				admin.WriteStatus(w, http.StatusOK, "ok")
				return
			case "/readyz":
				if err := s.Ready(); err != nil {
					admin.WriteStatus(w, http.StatusServiceUnavailable, err.Error())
					return
				}
				admin.WriteStatus(w, http.StatusOK, "ready")
				return
			}
		}
		s.ServeHTTP(w, r)
	})
}

// NewHTTPServer returns the agent-facing server on cfg.Listen with Airlock's
// limits. No overall read or write timeout: bodies of any size stream
// through (the inspected part of a body has cfg.BodyTimeout: ServeHTTP).
func NewHTTPServer(cfg config.Ingress, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.Listen,
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(cfg.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
