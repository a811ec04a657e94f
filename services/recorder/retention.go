package recorder

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// SweepEvery is how often the recorder expires recordings on a store that
// has no lifecycle rules of its own (the JetStream object store).
const SweepEvery = time.Hour

// retentions are the days each connection's recordings are kept (0: for
// ever), keyed by their prefix in the store.
func retentions(cfg *config.Config) map[string]int {
	r := make(map[string]int, len(cfg.Connections))
	for _, c := range cfg.Connections {
		days := c.RetentionDays
		if days == 0 {
			days = cfg.Recorder.RetentionDays
		}
		r[SessionsPrefix+subject.Token(c.Name)+"/"] = days
	}
	return r
}

// setRetention applies each connection's retention as a lifecycle rule on
// its prefix, when the store has lifecycle rules (S3). It reports whether
// it did; if not, the recorder sweeps (Sweep).
func setRetention(ctx context.Context, cfg *config.Config, st store.Store) (bool, error) {
	s3, ok := st.(*store.S3)
	if !ok {
		return false, nil
	}
	for prefix, days := range retentions(cfg) {
		if err := s3.SetRetention(ctx, prefix, days); err != nil {
			return true, fmt.Errorf("%s: setting retention: %w", prefix, err)
		}
	}
	return true, nil
}

// Sweep deletes the records older than their connection's retention, by
// the date in their key (sessions/<connection>/<yyyy>/<mm>/<dd>/…): what
// an S3 lifecycle rule does, for a store without one. A day is kept whole
// until it is entirely older than the retention. It returns how many
// records it deleted. The audit chain is never swept.
func Sweep(ctx context.Context, st store.Store, retention map[string]int, now time.Time) (int, error) {
	deleted := 0
	for prefix, days := range retention {
		if days <= 0 {
			continue
		}
		// The last day to delete: records of that day are all older than
		// days×24h.
		cutoff := now.UTC().AddDate(0, 0, -days-1).Format("2006/01/02")
		keys, err := st.List(ctx, prefix)
		if err != nil {
			return deleted, fmt.Errorf("listing %s: %w", prefix, err)
		}
		for _, k := range keys {
			day := strings.TrimPrefix(k, prefix)
			if len(day) < len("2006/01/02") || day[:len("2006/01/02")] > cutoff {
				continue
			}
			if err := st.Delete(ctx, k); err != nil {
				return deleted, fmt.Errorf("deleting %s: %w", k, err)
			}
			deleted++
		}
	}
	return deleted, nil
}

// sweep runs Sweep now and every SweepEvery until ctx ends.
func sweep(ctx context.Context, st store.Store, retention map[string]int, log *slog.Logger) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		n, err := Sweep(ctx, st, retention, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("expiring recordings", "err", err)
		} else if n > 0 {
			log.Info("expired recordings", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
