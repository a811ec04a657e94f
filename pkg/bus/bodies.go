package bus

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
)

// Bodies stores request bodies that do not fit inline in an event, in the
// airlock-bodies object store. It opens the store on first use and keeps
// the handle: opening costs a round trip to the server, which a body should
// not pay each time. Safe for concurrent use.
type Bodies struct {
	js jetstream.JetStream

	mu    sync.Mutex
	store jetstream.ObjectStore
}

// NewBodies returns the body store of js.
func NewBodies(js jetstream.JetStream) *Bodies { return &Bodies{js: js} }

func (b *Bodies) open(ctx context.Context) (jetstream.ObjectStore, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.store == nil {
		os, err := b.js.ObjectStore(ctx, subject.BodiesBucket)
		if err != nil {
			return nil, fmt.Errorf("opening object store %s: %w", subject.BodiesBucket, err)
		}
		b.store = os
	}
	return b.store, nil
}

// Put stores the body of request id and returns the object name the event
// carries.
func (b *Bodies) Put(ctx context.Context, id string, data []byte) (string, error) {
	return b.put(ctx, "req/"+id, data)
}

// PutResponse stores the (masked) response body of request id, for the
// recorder, and returns the object name the response event carries.
func (b *Bodies) PutResponse(ctx context.Context, id string, data []byte) (string, error) {
	return b.put(ctx, "resp/"+id, data)
}

func (b *Bodies) put(ctx context.Context, name string, data []byte) (string, error) {
	os, err := b.open(ctx)
	if err != nil {
		return "", err
	}
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("storing body %s: %w", name, err)
	}
	return name, nil
}

// Get reads a body stored by Put.
func (b *Bodies) Get(ctx context.Context, name string) ([]byte, error) {
	os, err := b.open(ctx)
	if err != nil {
		return nil, err
	}
	data, err := os.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading body %s: %w", name, err)
	}
	return data, nil
}
