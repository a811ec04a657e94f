package recorder

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/airlockhq/airlock/services/recorder/store"
)

// Session is a group of records: one agent's work on one connection.
type Session struct {
	ID         string
	Connection string
	Identity   string
	Start, End time.Time
	Exchanges  int
	// keys are the session's records, in time order.
	keys []string
}

// Filter selects sessions.
type Filter struct {
	Since      time.Time
	Identity   string
	Connection string
}

// Sessions lists the sessions in the store that match f, oldest first. It
// reads the first and last record of each session for who and when.
func Sessions(ctx context.Context, st store.Store, f Filter) ([]Session, error) {
	keys, err := st.List(ctx, SessionsPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing recordings: %w", err)
	}
	byID := map[string]*Session{}
	var order []string
	for _, k := range keys {
		// sessions/<conn>/<yyyy>/<mm>/<dd>/<session>/<id>.json.gz
		parts := strings.Split(strings.TrimPrefix(k, SessionsPrefix), "/")
		if len(parts) != 6 {
			continue
		}
		if f.Connection != "" && parts[0] != f.Connection {
			continue
		}
		id := parts[0] + "/" + parts[4]
		s := byID[id]
		if s == nil {
			s = &Session{ID: parts[4], Connection: parts[0]}
			byID[id] = s
			order = append(order, id)
		}
		s.keys = append(s.keys, k)
	}
	var out []Session
	for _, id := range order {
		s := byID[id]
		slices.Sort(s.keys)
		first, err := readRecord(ctx, st, s.keys[0])
		if err != nil {
			return nil, err
		}
		last := first
		if len(s.keys) > 1 {
			if last, err = readRecord(ctx, st, s.keys[len(s.keys)-1]); err != nil {
				return nil, err
			}
		}
		s.Identity, s.Start, s.End, s.Exchanges = first.Identity, first.Time, last.Time, len(s.keys)
		if (f.Identity != "" && s.Identity != f.Identity) || (!f.Since.IsZero() && s.End.Before(f.Since)) {
			continue
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Session) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// Replay returns a session's records in order. id is the session id, as
// Sessions lists it.
func Replay(ctx context.Context, st store.Store, id string) ([]*Record, error) {
	keys, err := st.List(ctx, SessionsPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing recordings: %w", err)
	}
	var mine []string
	for _, k := range keys {
		if strings.Contains(k, "/"+id+"/") {
			mine = append(mine, k)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("no session %q", id)
	}
	slices.Sort(mine)
	out := make([]*Record, 0, len(mine))
	for _, k := range mine {
		r, err := readRecord(ctx, st, k)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b *Record) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func readRecord(ctx context.Context, st store.Store, key string) (*Record, error) {
	data, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	r, err := DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return r, nil
}
