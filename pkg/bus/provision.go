package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
)

// PolicyAckWait is how long the policy service has to ack a request event
// before JetStream redelivers it to another replica.
const PolicyAckWait = 10 * time.Second

// ApproverAckWait is how long the approver has to ack a verdict: it posts
// to Slack first, which may be slow.
const ApproverAckWait = 30 * time.Second

// RecorderAckWait is how long the recorder's events stay unacked before
// they are delivered again. A record waiting for its response event (a
// held request waits up to its hold timeout) marks its events in progress
// more often than that; a recorder that dies has them redelivered soon.
const RecorderAckWait = 30 * time.Second

// LeaseTTL is how long a lease outlives its last renewal: the recorder
// renews every 2 s, so a replica that died is replaced within 6–8 s.
const LeaseTTL = 6 * time.Second

// ApprovalsTTL bounds how long approvals and grants are kept; a grant's
// own expiry is in its value, and is usually much shorter.
const ApprovalsTTL = 7 * 24 * time.Hour

// Provision creates or updates every stream, durable consumer and bucket.
// It is idempotent: every service calls it at start, in any order.
func Provision(ctx context.Context, js jetstream.JetStream, l Limits) error {
	l = l.withDefaults()
	streams := []jetstream.StreamConfig{
		{
			Name:        subject.Stream,
			Description: "the life of each request: request, verdict, approval, decision, response",
			Subjects:    subject.StreamSubjects,
			// An event is kept until every consumer it concerns (policy,
			// approver, recorder) has acked it, then removed: a request
			// leaves nothing behind once recorded. MaxAge bounds what a
			// consumer that stopped for good leaves.
			Retention:  jetstream.InterestPolicy,
			Storage:    jetstream.FileStorage,
			MaxAge:     l.MaxAge,
			Duplicates: DuplicateWindow,
			Replicas:   l.Replicas,
		},
		{
			Name:        subject.AuditStream,
			Description: "one audit event per request, for operators to subscribe to",
			Subjects:    subject.AuditStreamSubjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      l.AuditMaxAge,
			Duplicates:  DuplicateWindow,
			Replicas:    l.Replicas,
		},
	}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("provisioning stream %s: %w", cfg.Name, err)
		}
	}
	consumers := []jetstream.ConsumerConfig{
		{
			Durable:       subject.PolicyConsumer,
			Description:   "policy service: one verdict per request event",
			FilterSubject: subject.RequestPrefix + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       PolicyAckWait,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			MaxAckPending: 4096,
		},
		{
			Durable:       subject.RecorderConsumer,
			Description:   "recorder: every event of every exchange, acked once written",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       RecorderAckWait,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			MaxAckPending: 65536,
		},
		{
			Durable:       subject.ApproverConsumer,
			Description:   "approver: asks a human for each approve verdict",
			FilterSubject: subject.VerdictPrefix + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ApproverAckWait,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			MaxAckPending: 1024,
		},
	}
	for _, cfg := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, subject.Stream, cfg); err != nil {
			return fmt.Errorf("provisioning consumer %s: %w", cfg.Durable, err)
		}
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      subject.BodiesBucket,
		Description: "request bodies above the inline limit",
		Storage:     jetstream.FileStorage,
		TTL:         l.MaxAge,
		Replicas:    l.Replicas,
	}); err != nil {
		return fmt.Errorf("provisioning object store %s: %w", subject.BodiesBucket, err)
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      subject.RecordingsBucket,
		Description: "recordings and the audit chain, when no S3 store is configured",
		Storage:     jetstream.FileStorage,
		Replicas:    l.Replicas,
	}); err != nil {
		return fmt.Errorf("provisioning object store %s: %w", subject.RecordingsBucket, err)
	}
	kvs := []jetstream.KeyValueConfig{
		{Bucket: subject.GrantsBucket, Description: "just-in-time grants", Storage: jetstream.FileStorage, Replicas: l.Replicas, History: 1, TTL: ApprovalsTTL},
		{Bucket: subject.ApprovalsBucket, Description: "approvals, pending and decided; interactions seen", Storage: jetstream.FileStorage, Replicas: l.Replicas, History: 1, TTL: ApprovalsTTL},
		{Bucket: subject.PoliciesBucket, Description: "pushed policy sets", Storage: jetstream.FileStorage, Replicas: l.Replicas, History: 10},
		{Bucket: subject.LeasesBucket, Description: "which replica of a run-once service is active", Storage: jetstream.FileStorage, Replicas: l.Replicas, History: 1, TTL: LeaseTTL},
	}
	for _, cfg := range kvs {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("provisioning kv bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// ErrNotProvisioned means a stream a service binds to does not exist: the
// bus has not been provisioned (airlock provision).
var ErrNotProvisioned = errors.New("bus not provisioned")

// AwaitStreams waits until every named stream exists, checking every
// interval, and fails with ErrNotProvisioned when ctx ends first. A service
// whose NATS user may not administer the bus (deploy/nats/nats.conf) binds
// to what `airlock provision` created; started together with the
// provisioning, it waits for it rather than failing at once. The user needs
// $JS.API.STREAM.INFO.<name> for each stream.
func AwaitStreams(ctx context.Context, js jetstream.JetStream, interval time.Duration, names ...string) error {
	for _, name := range names {
		for {
			_, err := js.Stream(ctx, name)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrStreamNotFound) && ctx.Err() == nil {
				return fmt.Errorf("looking up stream %s: %w", name, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: stream %s: %w (run `airlock provision` as the admin user, "+
					"or set nats.provision on a server without per-service users)", ErrNotProvisioned, name, err)
			case <-time.After(interval):
			}
		}
	}
	return nil
}

// BodiesStream, PoliciesStream and GrantsStream are the streams behind the
// buckets, for AwaitStreams and for permissions.
const (
	BodiesStream     = "OBJ_" + subject.BodiesBucket
	PoliciesStream   = "KV_" + subject.PoliciesBucket
	GrantsStream     = "KV_" + subject.GrantsBucket
	ApprovalsStream  = "KV_" + subject.ApprovalsBucket
	RecordingsStream = "OBJ_" + subject.RecordingsBucket
	LeasesStream     = "KV_" + subject.LeasesBucket
)
