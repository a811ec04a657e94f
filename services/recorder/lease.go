package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
)

// One recorder replica records at a time. Two active at once would split a
// request's events between them (each write a record missing the other's
// events) and fork the audit chain (each append segments after the same
// last link). The others stand by: the active one holds a lease, key
// LeaseKey in KV airlock-leases, renewed every LeaseRenew; the bucket's
// TTL expires a lease its holder stopped renewing, and a standby takes it.
const (
	// LeaseKey is the recorder's lease in subject.LeasesBucket.
	LeaseKey = "recorder"
	// LeaseRenew is how often the holder renews, and a standby tries.
	LeaseRenew = 2 * time.Second
)

// lease is this replica's claim on LeaseKey.
type lease struct {
	kv     jetstream.KeyValue
	holder []byte
	rev    uint64
}

// acquire takes the lease if nobody holds it.
func (l *lease) acquire(ctx context.Context) (bool, error) {
	rev, err := l.kv.Create(ctx, LeaseKey, l.holder)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	l.rev = rev
	return true, nil
}

// renew extends the lease; it fails when another replica took it or the
// bus does not answer: either way, this replica stops recording.
func (l *lease) renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, LeaseKey, l.holder, l.rev)
	if err != nil {
		return err
	}
	l.rev = rev
	return nil
}

// release gives the lease up at once, so that a standby need not wait for
// it to expire; only if this replica still holds it.
func (l *lease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, LeaseKey, jetstream.LastRevision(l.rev))
}

// lead runs active while this replica holds the lease, and stands by
// otherwise, until ctx ends. active must return soon after its context
// ends.
func lead(ctx context.Context, l *lease, log *slog.Logger, m *Metrics, active func(context.Context) error) {
	tick := time.NewTicker(LeaseRenew)
	defer tick.Stop()
	standby := false
	for {
		held, err := l.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("recorder lease: trying again", "err", err)
		}
		if held {
			log.Info("recording: this replica holds the lease", "holder", string(l.holder))
			m.activate(true)
			hold(ctx, l, log, tick.C, active)
			m.activate(false)
			l.release()
			standby = false
		} else if !standby && err == nil {
			log.Info("standing by: another recorder replica holds the lease")
			standby = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// hold runs active until ctx ends or a renewal fails.
func hold(ctx context.Context, l *lease, log *slog.Logger, tick <-chan time.Time, active func(context.Context) error) {
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := active(actx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("recorder stopped", "err", err)
		}
	}()
	defer func() {
		cancel()
		<-done
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-tick:
			rctx, rcancel := context.WithTimeout(ctx, LeaseRenew)
			err := l.renew(rctx)
			rcancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("recorder lease lost: stopping, standing by", "err", err)
				return
			}
		}
	}
}

// newLease opens the lease bucket for holder.
func newLease(ctx context.Context, js jetstream.JetStream, holder string) (*lease, error) {
	kv, err := js.KeyValue(ctx, subject.LeasesBucket)
	if err != nil {
		return nil, fmt.Errorf("opening the lease bucket %s: %w", subject.LeasesBucket, err)
	}
	return &lease{kv: kv, holder: []byte(holder)}, nil
}
