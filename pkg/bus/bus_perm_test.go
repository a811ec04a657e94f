package bus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
)

// natsConf is the deployment's server configuration, loaded as is.
const natsConf = "../../deploy/nats/nats.conf"

// users are the users of natsConf, each with the environment variable of
// its password.
var users = []string{"admin", "ingress", "policy", "masker", "approver", "recorder", "cli"}

// securedBus is a server running natsConf, provisioned by its admin user.
type securedBus struct {
	url       string
	passwords map[string]string
}

// startSecured starts a real server from natsConf on a random loopback port
// with a temp store, its passwords in the environment, and provisions it as
// the admin user.
func startSecured(t *testing.T) *securedBus {
	t.Helper()
	b := &securedBus{passwords: map[string]string{}}
	for _, u := range users {
		b.passwords[u] = "pw-" + u + "-" + event.NewID()
		t.Setenv("AIRLOCK_NATS_"+strings.ToUpper(u)+"_PASSWORD", b.passwords[u])
	}
	t.Setenv("AIRLOCK_NATS_STORE_DIR", t.TempDir())
	opts, err := server.ProcessConfigFile(natsConf)
	if err != nil {
		t.Fatalf("loading %s: %v", natsConf, err)
	}
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.HTTPPort = 0
	opts.NoSigs = true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("creating server: %v", err)
	}
	if testing.Verbose() {
		// Permission violations, as the server reports them.
		ns.SetLoggerV2(&serverLogger{slog.New(slog.NewTextHandler(t.Output(), nil))}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	b.url = ns.ClientURL()

	admin := b.connect(t, "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Provision(ctx, admin.js, Limits{}); err != nil {
		t.Fatalf("provisioning as admin: %v", err)
	}
	return b
}

// client is a connection as one user, with the asynchronous errors the
// server sent it.
type client struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func (b *securedBus) connect(t *testing.T, user string) *client {
	t.Helper()
	nc, err := Connect(b.url, nil, user, nil, WithAuth(Auth{User: user, Password: b.passwords[user]}))
	if err != nil {
		t.Fatalf("connecting as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c := &client{user: user, nc: nc, errs: make(chan error, 64)}
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case c.errs <- err:
		default:
		}
	})
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// violation waits for the permissions violation on subj.
func (c *client) violation(t *testing.T, subj string) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subj+`"`) {
				return
			}
			t.Logf("%s: other async error: %v", c.user, err)
		case <-timeout:
			t.Fatalf("%s: no permissions violation for %s", c.user, subj)
		}
	}
}

func (c *client) noViolation(t *testing.T) {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.errs:
		t.Fatalf("%s: %v", c.user, err)
	default:
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// storedCount is how many messages a stream holds, as the admin sees it.
func storedCount(t *testing.T, admin *client, stream string) uint64 {
	t.Helper()
	s, err := admin.js.Stream(ctxFor(t, 5*time.Second), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return s.CachedInfo().State.Msgs
}

// TestServicesMayDoOnlyTheirOwnWork loads deploy/nats/nats.conf into a real
// server and checks each user against it: what it must be refused, and the
// work it must be able to do.
func TestServicesMayDoOnlyTheirOwnWork(t *testing.T) {
	b := startSecured(t)
	c := map[string]*client{}
	for _, u := range users {
		c[u] = b.connect(t, u)
	}
	// The recorder reads every airlock subject: the witness that a refused
	// message reached no one.
	witness, err := c["recorder"].nc.SubscribeSync("airlock.>")
	if err != nil {
		t.Fatal(err)
	}
	c["recorder"].noViolation(t)

	t.Run("refused", func(t *testing.T) {
		t.Run("ingress with the policy's password", func(t *testing.T) {
			_, err := Connect(b.url, nil, "ingress", nil, WithAuth(Auth{User: "ingress", Password: b.passwords["policy"]}))
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("err = %v, want an authorization error", err)
			}
		})
		t.Run("no user", func(t *testing.T) {
			if _, err := Connect(b.url, nil, "anonymous", nil); !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("err = %v, want an authorization error", err)
			}
		})
		publishes := []struct {
			user, subject, stream string
		}{
			{"masker", "airlock.decision.x", subject.Stream},
			{"masker", "airlock.verdict.x", subject.Stream},
			{"masker", "airlock.approval.x", subject.Stream},
			{"policy", "airlock.decision.x", subject.Stream},
			{"policy", "airlock.approval.x", subject.Stream},
			{"ingress", "airlock.verdict.x", subject.Stream},
			{"ingress", "airlock.decision.x", subject.Stream},
			{"approver", "airlock.verdict.x", subject.Stream},
			{"recorder", "airlock.audit.x", subject.AuditStream},
			{"cli", "airlock.decision.x", subject.Stream},
			{"admin", "airlock.verdict.x", subject.Stream},
			{"ingress", "$KV.airlock-grants.x", GrantsStream},
			{"policy", "$KV.airlock-grants.x", GrantsStream},
			{"masker", "$KV.airlock-grants.x", GrantsStream},
			{"cli", "$KV.airlock-grants.x", GrantsStream},
			{"recorder", "$KV.airlock-grants.x", GrantsStream},
			{"masker", "airlock.mask.x", ""},
			{"masker", "_INBOX.ingress.x", ""},
			// The masker reads nothing from JetStream: not even a body.
			{"masker", "$JS.API.STREAM.INFO." + "OBJ_" + subject.BodiesBucket, ""},
			{"masker", "$JS.API.DIRECT.GET." + "OBJ_" + subject.BodiesBucket + ".x", ""},
			{"policy", "airlock.mask.x", ""},
			{"policy", "$KV.airlock-policies.active", PoliciesStream},
			{"ingress", "$KV.airlock-policies.active", PoliciesStream},
			{"ingress", "$JS.API.STREAM.DELETE." + subject.AuditStream, ""},
			{"policy", "$JS.API.STREAM.PURGE." + subject.Stream, ""},
			{"cli", "$JS.API.CONSUMER.DELETE." + subject.Stream + "." + subject.PolicyConsumer, ""},
			{"admin", "$JS.API.STREAM.DELETE." + subject.AuditStream, ""},
		}
		for _, tt := range publishes {
			t.Run(tt.user+" publishes "+tt.subject, func(t *testing.T) {
				cl := c[tt.user]
				var before uint64
				if tt.stream != "" {
					before = storedCount(t, c["admin"], tt.stream)
				}
				if err := cl.nc.Publish(tt.subject, []byte(`{"forged":true}`)); err != nil {
					t.Fatal(err)
				}
				if err := cl.nc.Flush(); err != nil {
					t.Fatal(err)
				}
				cl.violation(t, tt.subject)
				if err := c["recorder"].nc.Flush(); err != nil {
					t.Fatal(err)
				}
				if m, err := witness.NextMsg(20 * time.Millisecond); err == nil {
					t.Fatalf("the refused message reached a subscriber on %s", m.Subject)
				}
				if tt.stream != "" {
					if after := storedCount(t, c["admin"], tt.stream); after != before {
						t.Fatalf("stream %s went from %d to %d messages", tt.stream, before, after)
					}
				}
			})
		}

		subscribes := []struct{ user, subject string }{
			{"masker", "airlock.req.>"},
			{"masker", "airlock.verdict.*"},
			{"approver", "airlock.req.>"},
			{"ingress", "_INBOX.>"},
			{"ingress", "_INBOX.policy.>"},
			{"policy", "_INBOX.ingress.>"},
			{"cli", "airlock.>"},
			{"recorder", "airlock.mask.>"},
			{"recorder", "airlock.mask.demo"},
			{"policy", "airlock.mask.>"},
		}
		for _, tt := range subscribes {
			t.Run(tt.user+" subscribes "+tt.subject, func(t *testing.T) {
				cl := c[tt.user]
				sub, err := cl.nc.SubscribeSync(tt.subject)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = sub.Unsubscribe() }()
				if err := cl.nc.Flush(); err != nil {
					t.Fatal(err)
				}
				cl.violation(t, tt.subject)
			})
		}

		t.Run("ingress writes a grant", func(t *testing.T) {
			ing := c["ingress"]
			if _, err := ing.js.KeyValue(ctxFor(t, 300*time.Millisecond), subject.GrantsBucket); err == nil {
				t.Fatal("ingress opened the grants bucket")
			}
			ing.violation(t, "$JS.API.STREAM.INFO."+GrantsStream)
			before := storedCount(t, c["admin"], GrantsStream)
			// Bypassing the bucket lookup: the put itself is refused.
			_, err := ing.js.Publish(ctxFor(t, 300*time.Millisecond), "$KV."+subject.GrantsBucket+".grant-1", []byte(`{"allow":"everything"}`))
			if err == nil {
				t.Fatal("ingress stored a grant")
			}
			ing.violation(t, "$KV."+subject.GrantsBucket+".grant-1")
			if after := storedCount(t, c["admin"], GrantsStream); after != before {
				t.Fatalf("grants went from %d to %d", before, after)
			}
		})
	})

	t.Run("allowed", func(t *testing.T) {
		ing, pol, cli, appr := c["ingress"], c["policy"], c["cli"], c["approver"]
		ctx := ctxFor(t, 10*time.Second)

		// Each service binds to the streams the admin provisioned.
		if err := AwaitStreams(ctx, ing.js, 10*time.Millisecond, subject.Stream, subject.AuditStream, BodiesStream); err != nil {
			t.Fatalf("ingress: %v", err)
		}
		if err := AwaitStreams(ctx, pol.js, 10*time.Millisecond, subject.Stream, PoliciesStream, BodiesStream); err != nil {
			t.Fatalf("policy: %v", err)
		}

		// The operator pushes a policy set; the policy service sees it.
		kv, err := pol.js.KeyValue(ctx, subject.PoliciesBucket)
		if err != nil {
			t.Fatalf("policy opens the policies bucket: %v", err)
		}
		watch, err := kv.Watch(ctx, "active")
		if err != nil {
			t.Fatalf("policy watches the policies: %v", err)
		}
		defer func() { _ = watch.Stop() }()
		cliKV, err := cli.js.KeyValue(ctx, subject.PoliciesBucket)
		if err != nil {
			t.Fatalf("cli opens the policies bucket: %v", err)
		}
		if _, err := cliKV.Put(ctx, "active", []byte(`{"files":[]}`)); err != nil {
			t.Fatalf("cli pushes a policy set: %v", err)
		}
		for pushed := false; !pushed; {
			select {
			case e := <-watch.Updates():
				pushed = e != nil && string(e.Value()) == `{"files":[]}`
			case <-ctx.Done():
				t.Fatal("policy did not see the pushed set")
			}
		}

		// The ingress stores a large body and publishes the request event.
		id := event.NewID()
		verdicts, err := ing.nc.SubscribeSync(subject.VerdictPrefix + "*")
		if err != nil {
			t.Fatal(err)
		}
		decisions, err := ing.nc.SubscribeSync(subject.DecisionPrefix + "*")
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte("large body "), 20000)
		obj, err := NewBodies(ing.js).Put(ctx, id, body)
		if err != nil {
			t.Fatalf("ingress stores a body: %v", err)
		}
		if _, err := ing.js.Publish(ctx, subject.Request("demo", id), []byte(`{"id":"`+id+`"}`), jetstream.WithMsgID(id+":req")); err != nil {
			t.Fatalf("ingress publishes a request event: %v", err)
		}

		// The policy service pulls it, reads the body, publishes the
		// verdict and acks.
		cons, err := pol.js.Consumer(ctx, subject.Stream, subject.PolicyConsumer)
		if err != nil {
			t.Fatalf("policy binds to its consumer: %v", err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		msg, ok := <-batch.Messages()
		if !ok {
			t.Fatalf("policy fetched nothing: %v", batch.Error())
		}
		if msg.Subject() != subject.Request("demo", id) {
			t.Fatalf("policy fetched %s", msg.Subject())
		}
		got, err := NewBodies(pol.js).Get(ctx, obj)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("policy reads the body: %d bytes, %v", len(got), err)
		}
		if _, err := pol.js.Publish(ctx, subject.Verdict(id), []byte(`{"effect":"approve"}`), jetstream.WithMsgID(id+":verdict")); err != nil {
			t.Fatalf("policy publishes the verdict: %v", err)
		}
		if err := msg.DoubleAck(ctx); err != nil {
			t.Fatalf("policy acks the request event: %v", err)
		}
		if m, err := verdicts.NextMsg(5 * time.Second); err != nil || m.Subject != subject.Verdict(id) {
			t.Fatalf("ingress receives the verdict: %v", err)
		}

		// The approver decides and keeps a grant; the ingress hears the
		// decision.
		if _, err := appr.js.Publish(ctx, subject.DecisionPrefix+id, []byte(`{"approved":true}`)); err != nil {
			t.Fatalf("approver publishes the decision: %v", err)
		}
		if m, err := decisions.NextMsg(5 * time.Second); err != nil || m.Subject != subject.DecisionPrefix+id {
			t.Fatalf("ingress receives the decision: %v", err)
		}
		grants, err := appr.js.KeyValue(ctx, subject.GrantsBucket)
		if err != nil {
			t.Fatalf("approver opens the grants: %v", err)
		}
		if _, err := grants.Put(ctx, "grant-1", []byte(`{}`)); err != nil {
			t.Fatalf("approver stores a grant: %v", err)
		}
		if _, err := grants.Get(ctx, "grant-1"); err != nil {
			t.Fatalf("approver reads a grant: %v", err)
		}

		// The ingress journals the outcome asynchronously.
		for _, subj := range []string{subject.Response(id), subject.Audit("demo")} {
			if _, err := ing.js.PublishAsync(subj, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-ing.js.PublishAsyncComplete():
		case <-ctx.Done():
			t.Fatal("async publishes not acked")
		}

		// The ingress asks the masker, which answers once.
		sub, err := c["masker"].nc.QueueSubscribe(subject.Mask("demo"), subject.MaskQueue, func(m *nats.Msg) {
			_ = m.Respond([]byte("masked"))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := c["masker"].nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if reply, err := ing.nc.Request(subject.Mask("demo"), []byte("raw body"), 2*time.Second); err != nil || string(reply.Data) != "masked" {
			t.Fatalf("ingress asks the masker: %v", err)
		}
		for _, cl := range c {
			cl.noViolation(t)
		}
		seen := map[string]bool{}
		for {
			m, err := witness.NextMsg(2 * time.Second)
			if err != nil {
				break
			}
			seen[m.Subject] = true
			if seen[subject.Audit("demo")] {
				break
			}
		}
		// The piece was sent after the audit event: wait past it.
		for {
			m, err := witness.NextMsg(300 * time.Millisecond)
			if err != nil {
				break
			}
			seen[m.Subject] = true
		}
		if seen[subject.Mask("demo")] {
			t.Error("the recorder saw a piece of a body before masking")
		}
		for _, want := range []string{subject.Request("demo", id), subject.Verdict(id), subject.DecisionPrefix + id, subject.Audit("demo")} {
			if !seen[want] {
				t.Errorf("the recorder did not see %s (saw %v)", want, seen)
			}
		}
	})
}
