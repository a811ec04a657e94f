// Package identity verifies agents' OIDC tokens and turns their claims into
// an event.Identity. It trusts a fixed list of issuers; each is discovered
// over HTTP (go-oidc) on first use, and its JWKS is refetched when a token
// names a key it has not seen, so that key rotation needs no restart.
package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
)

// Sentinel errors a caller branches on.
var (
	// ErrNoToken means the request carried no credential.
	ErrNoToken = errors.New("no token")
	// ErrInvalidToken means a token was presented and refused.
	ErrInvalidToken = errors.New("invalid token")
	// ErrIssuerUnavailable means the token's issuer could not be reached
	// for discovery: the gateway cannot tell, so it refuses (503).
	ErrIssuerUnavailable = errors.New("issuer unavailable")
)

// Verifier checks tokens against the trusted issuers.
type Verifier struct {
	skew    time.Duration
	client  *http.Client
	issuers map[string]*issuer

	// cache remembers verified tokens by digest: an agent sends the same
	// token on every request, and a signature check costs tens of
	// microseconds.
	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	id      event.Identity
	expires time.Time
}

// Cache bounds: how many verified tokens are remembered, and for how long
// at most (a token is never remembered past its own expiry).
const (
	cacheSize = 16384
	cacheTTL  = 5 * time.Minute
)

type issuer struct {
	cfg config.Issuer

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

// rediscoverAfter limits how often an unreachable issuer's discovery is
// retried, so that a burst of requests does not become a burst at the IdP.
const rediscoverAfter = 2 * time.Second

// New returns a Verifier for the issuers. Discovery happens on first use.
func New(issuers []config.Issuer, skew time.Duration, client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	v := &Verifier{skew: skew, client: client, issuers: map[string]*issuer{}, cache: map[[32]byte]cached{}}
	for _, is := range issuers {
		v.issuers[is.URL] = &issuer{cfg: is}
	}
	return v
}

// Verify checks raw and returns who it names. Every refusal wraps
// ErrInvalidToken or ErrIssuerUnavailable; the error text says why without
// echoing the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (event.Identity, error) {
	key := sha256.Sum256([]byte(raw))
	now := time.Now()
	v.mu.Lock()
	c, ok := v.cache[key]
	v.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.id, nil
	}
	id, exp, err := v.verifyToken(ctx, raw)
	if err != nil {
		return event.Identity{}, err
	}
	expires := now.Add(cacheTTL)
	if exp := exp.Add(v.skew); exp.Before(expires) {
		expires = exp
	}
	v.mu.Lock()
	if len(v.cache) >= cacheSize {
		for k, e := range v.cache {
			if now.After(e.expires) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= cacheSize {
			clear(v.cache) // a flood of distinct valid tokens: start over
		}
	}
	v.cache[key] = cached{id: id, expires: expires}
	v.mu.Unlock()
	return id, nil
}

func (v *Verifier) verifyToken(ctx context.Context, raw string) (event.Identity, time.Time, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	is, ok := v.issuers[iss]
	if !ok {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: issuer %q is not trusted", ErrInvalidToken, iss)
	}
	verifier, err := is.get(ctx, v.client, v.skew)
	if err != nil {
		return event.Identity{}, time.Time{}, err
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(is.cfg.Audiences, a) }) {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: audience %v is not accepted", ErrInvalidToken, tok.Audience)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: decoding claims: %v", ErrInvalidToken, err)
	}
	id := event.Identity{Subject: tok.Subject, Issuer: tok.Issuer, Groups: []string{}}
	if id.Subject == "" {
		return event.Identity{}, time.Time{}, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	if email, ok := claims["email"].(string); ok {
		id.Email = email
	}
	switch g := claims[is.cfg.GroupsClaim].(type) {
	case string:
		id.Groups = []string{g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	}
	return id, tok.Expiry, nil
}

func (is *issuer) get(ctx context.Context, client *http.Client, skew time.Duration) (*oidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	if time.Since(is.lastTry) < rediscoverAfter && is.lastErr != nil {
		return nil, is.lastErr
	}
	is.lastTry = time.Now()
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, is.cfg.URL)
	if err != nil {
		is.lastErr = fmt.Errorf("%w: discovering %s: %v", ErrIssuerUnavailable, is.cfg.URL, err)
		return nil, is.lastErr
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		is.lastErr = fmt.Errorf("%w: %s's discovery document names no jwks_uri", ErrIssuerUnavailable, is.cfg.URL)
		return nil, is.lastErr
	}
	keys := newKeySet(meta.JWKS, client, is.cfg.Algorithms)
	is.verifier = oidc.NewVerifier(is.cfg.URL, keys, &oidc.Config{
		// Audiences are checked above, against the configured list.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: is.cfg.Algorithms,
		Now:                  func() time.Time { return time.Now().Add(-skew) },
	})
	is.lastErr = nil
	return is.verifier, nil
}

// unverifiedIssuer reads "iss" from a JWT's payload without verifying it,
// only to choose which issuer's keys verify it.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token: want header.payload.signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("malformed token: payload is not base64url")
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errors.New("malformed token: payload is not JSON")
	}
	if c.Issuer == "" {
		return "", errors.New("token has no iss claim")
	}
	return c.Issuer, nil
}

// FromRequest extracts the agent's token from the request: the
// Authorization header as "Bearer <t>", "token <t>" (gh style), or Basic
// with the token as password (git clients).
func FromRequest(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, rest, ok := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	if !ok || rest == "" {
		return "", fmt.Errorf("%w: malformed Authorization header", ErrInvalidToken)
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return rest, nil
	case "basic":
		if _, pw, ok := r.BasicAuth(); ok && pw != "" {
			return pw, nil
		}
		return "", fmt.Errorf("%w: basic credentials carry no token as password", ErrInvalidToken)
	}
	return "", fmt.Errorf("%w: unsupported Authorization scheme", ErrInvalidToken)
}
