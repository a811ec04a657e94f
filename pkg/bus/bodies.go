package bus

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/subject"
)

// PutBody stores a request body that does not fit inline in an event and
// returns the object name the event carries.
func PutBody(ctx context.Context, js jetstream.JetStream, id string, data []byte) (string, error) {
	os, err := js.ObjectStore(ctx, subject.BodiesBucket)
	if err != nil {
		return "", fmt.Errorf("opening object store %s: %w", subject.BodiesBucket, err)
	}
	name := "req/" + id
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("storing body of %s: %w", id, err)
	}
	return name, nil
}

// GetBody reads a body stored by PutBody.
func GetBody(ctx context.Context, js jetstream.JetStream, name string) ([]byte, error) {
	os, err := js.ObjectStore(ctx, subject.BodiesBucket)
	if err != nil {
		return nil, fmt.Errorf("opening object store %s: %w", subject.BodiesBucket, err)
	}
	data, err := os.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading body %s: %w", name, err)
	}
	return data, nil
}
