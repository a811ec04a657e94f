// Package bus connects Airlock's services to NATS JetStream: it starts the
// embedded server, dials a remote one, and provisions the streams,
// consumers and buckets that the services share.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Defaults for the streams.
const (
	// DefaultMaxAge is how long the AIRLOCK stream keeps request life events.
	DefaultMaxAge = 24 * time.Hour
	// DefaultAuditMaxAge is how long the AIRLOCK_AUDIT stream keeps audit events.
	DefaultAuditMaxAge = 365 * 24 * time.Hour
	// DuplicateWindow is how long a Nats-Msg-Id is remembered, so that a
	// retried publish is stored once.
	DuplicateWindow = 2 * time.Minute
	// MaxPayload is the largest message the embedded server accepts. Request
	// bodies above the inline limit travel through the object store, so
	// events stay far below it.
	MaxPayload = 8 << 20
)

// Embedded describes an in-process nats-server.
type Embedded struct {
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// Listen is host:port for clients outside the process (the CLI). Empty
	// means no listener: in-process connections only.
	Listen string
	// Logger receives the server's notices and errors; nil discards them.
	Logger *slog.Logger
}

// StartEmbedded starts a nats-server with JetStream file storage and waits
// until it accepts connections.
func StartEmbedded(e Embedded) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "airlock-embedded",
		JetStream:          true,
		StoreDir:           e.StoreDir,
		MaxPayload:         MaxPayload,
		NoSigs:             true,
		DontListen:         e.Listen == "",
		JetStreamMaxMemory: 256 << 20,
	}
	if e.Listen != "" {
		host, port, err := net.SplitHostPort(e.Listen)
		if err != nil {
			return nil, fmt.Errorf("parsing nats listen address %q: %w", e.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("parsing nats listen port %q: %w", port, err)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating embedded nats server: %w", err)
	}
	if e.Logger != nil {
		ns.SetLoggerV2(&serverLogger{e.Logger}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats server not ready after 10s")
	}
	return ns, nil
}

// Connect dials NATS at url (or, when ns is not nil, connects in-process)
// and keeps reconnecting forever: a service outlives a bus restart.
func Connect(url string, ns *server.Server, name string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				log.Warn("nats disconnected", "client", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "client", name, "url", nc.ConnectedUrlRedacted())
		}),
	}
	if ns != nil {
		opts = append(opts, nats.InProcessServer(ns))
		url = ns.ClientURL()
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s: %w", url, err)
	}
	return nc, nil
}

// Limits sizes the streams.
type Limits struct {
	MaxAge      time.Duration
	AuditMaxAge time.Duration
	// Replicas is 1 on a single server, 3 on a cluster.
	Replicas int
}

func (l Limits) withDefaults() Limits {
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultMaxAge
	}
	if l.AuditMaxAge <= 0 {
		l.AuditMaxAge = DefaultAuditMaxAge
	}
	if l.Replicas <= 0 {
		l.Replicas = 1
	}
	return l
}
