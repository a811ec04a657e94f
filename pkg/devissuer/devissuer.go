// Package devissuer is a minimal OIDC issuer for a first run and for tests:
// it serves discovery and JWKS over HTTP and signs tokens with a key kept in
// the data dir, so that `airlock token` and `airlock up` agree on it. It is
// never meant for production, where the ingress trusts a real issuer.
package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// StateFile is the file in the data dir that holds the issuer's URL,
// audience and private keys.
const StateFile = "dev-issuer.json"

// Issuer signs tokens and serves the documents a verifier needs.
type Issuer struct {
	mu    sync.RWMutex
	state state
	path  string
}

type state struct {
	URL      string            `json:"url"`
	Audience string            `json:"audience"`
	Keys     []jose.JSONWebKey `json:"keys"` // newest last; it signs
}

// Claims are what a dev token asserts.
type Claims struct {
	Subject string
	Email   string
	Groups  []string
	// TTL is the token's lifetime (default 1h).
	TTL time.Duration
}

// Open loads the issuer from dir, or creates it with a new key. The URL and
// audience are (re)written, so that a changed listen address takes effect.
func Open(dir, url, audience string) (*Issuer, error) {
	iss, err := Load(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		iss = &Issuer{path: filepath.Join(dir, StateFile)}
		if err := iss.addKey(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	iss.state.URL, iss.state.Audience = url, audience
	if err := iss.save(); err != nil {
		return nil, err
	}
	return iss, nil
}

// Load reads the issuer that `airlock up` created in dir.
func Load(dir string) (*Issuer, error) {
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading dev issuer state: %w", err)
	}
	iss := &Issuer{path: path}
	if err := json.Unmarshal(data, &iss.state); err != nil {
		return nil, fmt.Errorf("decoding dev issuer state %s: %w", path, err)
	}
	if len(iss.state.Keys) == 0 {
		return nil, fmt.Errorf("dev issuer state %s holds no key", path)
	}
	return iss, nil
}

// URL is the issuer identifier.
func (i *Issuer) URL() string { i.mu.RLock(); defer i.mu.RUnlock(); return i.state.URL }

// Audience is the audience of the tokens it signs.
func (i *Issuer) Audience() string { i.mu.RLock(); defer i.mu.RUnlock(); return i.state.Audience }

// Rotate adds a new signing key. The old keys stay in the JWKS, so tokens
// they signed stay valid until they expire.
func (i *Issuer) Rotate() error {
	if err := i.addKey(); err != nil {
		return err
	}
	return i.save()
}

func (i *Issuer) addKey() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating dev issuer key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("computing key id: %w", err)
	}
	jwk.KeyID = fmt.Sprintf("%x", thumb[:8])
	i.mu.Lock()
	i.state.Keys = append(i.state.Keys, jwk)
	i.mu.Unlock()
	return nil
}

func (i *Issuer) save() error {
	i.mu.RLock()
	data, err := json.MarshalIndent(i.state, "", "  ")
	i.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("encoding dev issuer state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(i.path), 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	tmp := i.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing dev issuer state: %w", err)
	}
	if err := os.Rename(tmp, i.path); err != nil {
		return fmt.Errorf("writing dev issuer state: %w", err)
	}
	return nil
}

// Sign returns a signed ID token for c.
func (i *Issuer) Sign(c Claims) (string, error) {
	i.mu.RLock()
	key := i.state.Keys[len(i.state.Keys)-1]
	url, aud := i.state.URL, i.state.Audience
	i.mu.RUnlock()
	if c.Subject == "" {
		return "", errors.New("signing dev token: subject is required")
	}
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		return "", fmt.Errorf("creating signer: %w", err)
	}
	now := time.Now()
	std := jwt.Claims{
		Issuer:    url,
		Subject:   c.Subject,
		Audience:  jwt.Audience{aud},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry:    jwt.NewNumericDate(now.Add(c.TTL)),
	}
	extra := map[string]any{"groups": c.Groups}
	if c.Email != "" {
		extra["email"] = c.Email
	}
	tok, err := jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing dev token: %w", err)
	}
	return tok, nil
}

// Handler serves /.well-known/openid-configuration and /jwks.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		url := i.URL()
		writeJSON(w, map[string]any{
			"issuer":                                url,
			"jwks_uri":                              url + "/jwks",
			"authorization_endpoint":                url + "/authorize",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, i.JWKS())
	})
	return mux
}

// JWKS is the public key set.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	i.mu.RLock()
	defer i.mu.RUnlock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.state.Keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// SigningKey returns the current private key, for tests that forge tokens
// on purpose (a wrong issuer, an expired token).
func (i *Issuer) SigningKey() jose.JSONWebKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.state.Keys[len(i.state.Keys)-1]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
