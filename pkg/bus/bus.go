// Package bus connects Airlock's services to NATS JetStream: it starts the
// embedded server, dials a remote one, and provisions the streams,
// consumers and buckets that the services share.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
)

// Defaults for the streams.
const (
	// DefaultMaxAge is how long the AIRLOCK stream keeps request life events.
	DefaultMaxAge = 24 * time.Hour
	// DefaultAuditMaxAge is how long the AIRLOCK_AUDIT stream keeps audit events.
	DefaultAuditMaxAge = 365 * 24 * time.Hour
	// DuplicateWindow is how long a Nats-Msg-Id is remembered, so that a
	// retried publish is stored once. The configuration owns it: a
	// stream's max age may not be shorter.
	DuplicateWindow = config.StreamDuplicateWindow
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

// Auth is how a client proves who it is to a NATS server, and how it
// checks the server. The zero value connects without credentials, as to the
// embedded server.
type Auth struct {
	// User and Password: a user of deploy/nats/nats.conf.
	User, Password string
	// Creds is a credentials file (user JWT and NKey seed).
	Creds string
	// CA verifies the server's certificate; Cert and Key are the client's,
	// for mutual TLS. Any of them turns TLS on.
	CA, Cert, Key string
}

// AuthFrom returns the credentials in the nats section of cfg, with the
// files resolved from the configuration's directory.
func AuthFrom(cfg *config.Config) Auth {
	n := cfg.NATS
	return Auth{
		User: n.User, Password: n.Password, Creds: cfg.Path(n.Creds),
		CA: cfg.Path(n.TLS.CA), Cert: cfg.Path(n.TLS.Cert), Key: cfg.Path(n.TLS.Key),
	}
}

func (a Auth) options() []nats.Option {
	var opts []nats.Option
	if a.User != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.Creds != "" {
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	if a.CA != "" {
		opts = append(opts, nats.RootCAs(a.CA))
	}
	if a.Cert != "" || a.Key != "" {
		opts = append(opts, nats.ClientCert(a.Cert, a.Key))
	}
	return opts
}

// Option changes how Connect dials.
type Option func(*dialOptions)

type dialOptions struct {
	auth Auth
}

// WithAuth dials with credentials (ignored for an in-process connection:
// the embedded server has no users).
func WithAuth(a Auth) Option {
	return func(o *dialOptions) { o.auth = a }
}

// InboxPrefix is the prefix of the reply subjects of the client named name:
// _INBOX.<name>. deploy/nats/nats.conf lets each service subscribe to its
// own inboxes only, so that no service reads another's replies (its
// JetStream API answers, its pulled messages).
func InboxPrefix(name string) string {
	return "_INBOX." + subject.Token(name)
}

// Connect dials NATS at url (or, when ns is not nil, connects in-process)
// and keeps reconnecting forever: a service outlives a bus restart. name
// names the client and its inbox prefix (InboxPrefix); asynchronous errors,
// such as a permissions violation, are logged.
func Connect(url string, ns *server.Server, name string, log *slog.Logger, opts ...Option) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var do dialOptions
	for _, o := range opts {
		o(&do)
	}
	nopts := []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(InboxPrefix(name)),
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
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("nats error", "client", name, "subject", sub.Subject, "err", err)
				return
			}
			log.Error("nats error", "client", name, "err", err)
		}),
	}
	if ns != nil {
		nopts = append(nopts, nats.InProcessServer(ns))
		url = ns.ClientURL()
	} else {
		nopts = append(nopts, do.auth.options()...)
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s as %s: %w", redact(url), name, err)
	}
	return nc, nil
}

// redact drops any userinfo from a URL for an error message.
func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
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
