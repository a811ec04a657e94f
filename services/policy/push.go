package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// PushedKey is the key of the active pushed policy set in the
// airlock-policies KV bucket. Its history keeps the sets pushed before.
const PushedKey = "active"

// Pushed is a policy set pushed with `airlock policy push`: the files
// themselves, so that every replica compiles exactly what was checked.
type Pushed struct {
	// Files are the policy files, by base name.
	Files []rules.Source `json:"files"`
	// By says who pushed (the pusher's user@host, informational).
	By string `json:"by"`
	// Time is when it was pushed.
	Time time.Time `json:"time"`
}

// Compile compiles the pushed files with opts.
func (p *Pushed) Compile(opts ...rules.Option) (*rules.Set, error) {
	if len(p.Files) == 0 {
		return nil, errors.New("pushed policy set holds no file")
	}
	return rules.Compile(p.Files, opts...)
}

// Push compiles the files and, only when they compile, stores them as the
// active set in the policies bucket; every policy replica picks them up at
// once. It returns the set's revision.
func Push(ctx context.Context, js jetstream.JetStream, paths []string, by string) (uint64, error) {
	p := Pushed{By: by, Time: time.Now().UTC()}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("reading policy file: %w", err)
		}
		p.Files = append(p.Files, rules.Source{Name: filepath.Base(path), Data: data})
	}
	if _, err := p.Compile(); err != nil {
		return 0, fmt.Errorf("refusing to push: %w", err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encoding policy set: %w", err)
	}
	kv, err := js.KeyValue(ctx, subject.PoliciesBucket)
	if err != nil {
		return 0, fmt.Errorf("opening kv bucket %s: %w", subject.PoliciesBucket, err)
	}
	rev, err := kv.Put(ctx, PushedKey, data)
	if err != nil {
		return 0, fmt.Errorf("storing policy set: %w", err)
	}
	return rev, nil
}

// WatchPushed follows the pushed policy set until ctx is done: the current
// one at start, then every push. A set that does not compile here (pushed
// by anything but `airlock policy push`, or by another version) is logged
// and refused; the rules in force stay. Pushed sets take precedence over
// the configured files from the moment one exists.
func (s *Service) WatchPushed(ctx context.Context, opts ...rules.Option) error {
	kv, err := s.js.KeyValue(ctx, subject.PoliciesBucket)
	if err != nil {
		return fmt.Errorf("opening kv bucket %s: %w", subject.PoliciesBucket, err)
	}
	w, err := kv.Watch(ctx, PushedKey)
	if err != nil {
		return fmt.Errorf("watching pushed policies: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // the end of the initial values, or a delete
			}
			s.applyPushed(e.Value(), e.Revision(), opts)
		}
	}
}

func (s *Service) applyPushed(data []byte, rev uint64, opts []rules.Option) {
	var p Pushed
	if err := json.Unmarshal(data, &p); err != nil {
		s.log.Error("pushed policy set is not valid: keeping the rules in force", "revision", rev, "err", err)
		return
	}
	set, err := p.Compile(opts...)
	if err != nil {
		s.log.Error("pushed policy set does not compile: keeping the rules in force", "revision", rev, "err", err)
		return
	}
	s.SetRules(set)
	s.log.Info("policy set loaded from push", "revision", rev, "rules", set.Len(), "by", p.By)
}
