package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// refetchEvery bounds how often a token that no held key verifies may make
// the key set refetch the issuer's JWKS. go-oidc's own remote key set
// refetches for every such token, so a stream of forged tokens would become
// a stream of requests to the identity provider. A variable for tests.
var refetchEvery = time.Second

// errNoKey refuses a token that no key of the issuer verifies.
var errNoKey = errors.New("no key of the issuer verifies the token")

// keySet verifies signatures with an issuer's JWKS, refetching it when a
// token names a key it does not hold (key rotation), at most once per
// refetchEvery.
type keySet struct {
	url    string
	client *http.Client
	algs   []jose.SignatureAlgorithm

	mu      sync.Mutex // guards keys and fetched
	keys    []jose.JSONWebKey
	fetched time.Time
	fetchMu sync.Mutex // one fetch at a time
}

func newKeySet(url string, client *http.Client, algs []string) *keySet {
	k := &keySet{url: url, client: client}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("parsing token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := verifyWith(k.held(), jws, kid); ok {
		return payload, nil
	}
	keys, err := k.refetch(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(keys, jws, kid); ok {
		return payload, nil
	}
	return nil, errNoKey
}

func (k *keySet) held() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// refetch fetches the JWKS unless it was fetched less than refetchEvery
// ago, and returns the keys held then.
func (k *keySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	recent := !k.fetched.IsZero() && time.Since(k.fetched) < refetchEvery
	keys := k.keys
	k.mu.Unlock()
	if recent {
		return keys, nil
	}
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetched = time.Now() // failures count too: an unreachable JWKS is not hammered
	if err != nil {
		return k.keys, err
	}
	k.keys = keys
	return keys, nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decoding jwks: %w", err)
	}
	return set.Keys, nil
}

func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid string) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

var _ oidc.KeySet = (*keySet)(nil)
