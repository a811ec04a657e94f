package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/oidctest"
)

// testIssuer is the dev issuer served over real HTTP.
func testIssuer(t *testing.T) (*devissuer.Issuer, *Verifier) {
	t.Helper()
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	iss, err = devissuer.Open(t.TempDir(), srv.URL, "airlock")
	if err != nil {
		t.Fatal(err)
	}
	v := New([]config.Issuer{{URL: srv.URL, Audiences: []string{"airlock"}, GroupsClaim: "groups", Algorithms: []string{"RS256", "ES256"}}}, 30*time.Second, nil)
	return iss, v
}

func TestVerifyAcceptsAGoodToken(t *testing.T) {
	iss, v := testIssuer(t)
	tok, err := iss.Sign(devissuer.Claims{Subject: "copilot", Email: "bot@example.com", Groups: []string{"agents", "ci"}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "copilot" || id.Email != "bot@example.com" || id.Issuer != iss.URL() || strings.Join(id.Groups, ",") != "agents,ci" {
		t.Fatalf("identity = %+v", id)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	iss, v := testIssuer(t)
	toks, err := oidctest.BadTokens(iss)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range toks {
		t.Run(tt.Name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tt.Value)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", id, err)
			}
			if strings.Contains(err.Error(), tt.Value) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
}

func TestVerifyAllowsClockSkewOnExpiry(t *testing.T) {
	iss, v := testIssuer(t)
	tok, _ := oidctest.SignWithIssuerKey(iss, oidctest.Claims(iss, func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("a token expired 10s ago is within the 30s skew: %v", err)
	}
}

func TestVerifyFollowsKeyRotation(t *testing.T) {
	iss, v := testIssuer(t)
	before, _ := iss.Sign(devissuer.Claims{Subject: "a"})
	if _, err := v.Verify(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	// The JWKS is refetched for an unknown key id at most once per
	// refetchEvery; past it, the rotated key is found.
	defer func(d time.Duration) { refetchEvery = d }(refetchEvery)
	refetchEvery = 50 * time.Millisecond
	time.Sleep(60 * time.Millisecond)
	after, _ := iss.Sign(devissuer.Claims{Subject: "a"})
	if _, err := v.Verify(context.Background(), after); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if _, err := v.Verify(context.Background(), before); err != nil {
		t.Fatalf("token signed with the previous key, still in the JWKS: %v", err)
	}
}

func TestVerifyReadsTheConfiguredGroupsClaim(t *testing.T) {
	iss, _ := testIssuer(t)
	v := New([]config.Issuer{{URL: iss.URL(), Audiences: []string{"x", "airlock"}, GroupsClaim: "roles", Algorithms: []string{"RS256"}}}, 0, nil)
	tok, _ := oidctest.SignWithIssuerKey(iss, oidctest.Claims(iss, func(c map[string]any) { c["roles"] = "admins" }))
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Groups) != 1 || id.Groups[0] != "admins" {
		t.Fatalf("groups = %v, want [admins] from the roles claim", id.Groups)
	}
}

func TestVerifyReportsAnUnreachableIssuer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	v := New([]config.Issuer{{URL: url, Audiences: []string{"airlock"}, GroupsClaim: "groups", Algorithms: []string{"RS256"}}}, 0, nil)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok, _ := oidctest.Sign(jose.RS256, other, "k", map[string]any{"iss": url, "sub": "a", "aud": "airlock", "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrIssuerUnavailable) {
		t.Fatalf("err = %v, want ErrIssuerUnavailable", err)
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name, header, want string
		err                error
	}{
		{"bearer", "Bearer abc", "abc", nil},
		{"gh token", "token abc", "abc", nil},
		{"lowercase scheme", "bearer abc", "abc", nil},
		{"basic password", "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:abc")), "abc", nil},
		{"missing", "", "", ErrNoToken},
		{"scheme only", "Bearer", "", ErrInvalidToken},
		{"basic without password", "Basic " + base64.StdEncoding.EncodeToString([]byte("user:")), "", ErrInvalidToken},
		{"basic garbage", "Basic !!!", "", ErrInvalidToken},
		{"unknown scheme", "Digest abc", "", ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, err := FromRequest(r)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("FromRequest = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestVerifyCacheNeverOutlivesTheToken(t *testing.T) {
	iss, _ := testIssuer(t)
	v := New([]config.Issuer{{URL: iss.URL(), Audiences: []string{"airlock"}, GroupsClaim: "groups", Algorithms: []string{"RS256"}}}, 0, nil)
	tok, _ := oidctest.SignWithIssuerKey(iss, oidctest.Claims(iss, func(c map[string]any) { c["exp"] = time.Now().Add(1500 * time.Millisecond).Unix() }))
	for range 2 { // the second is answered from the cache
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2600 * time.Millisecond)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token after caching: err = %v, want ErrInvalidToken", err)
	}
}

// TestForgedTokensDoNotFloodTheIssuer sends a burst of tokens that no key
// verifies — unknown key ids and bad signatures under the real one — and
// wants the JWKS fetched at most once per refetchEvery, not once a token.
func TestForgedTokensDoNotFloodTheIssuer(t *testing.T) {
	var iss *devissuer.Issuer
	var jwksHits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			jwksHits.Add(1)
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	if iss, err = devissuer.Open(t.TempDir(), srv.URL, "airlock"); err != nil {
		t.Fatal(err)
	}
	v := New([]config.Issuer{{URL: srv.URL, Audiences: []string{"airlock"}, GroupsClaim: "groups", Algorithms: []string{"RS256"}}}, 0, nil)
	good, _ := iss.Sign(devissuer.Claims{Subject: "a"})
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := range 40 {
		kid := fmt.Sprintf("forged-%d", i)
		if i%2 == 0 {
			kid = iss.SigningKey().KeyID // a bad signature under the real key id
		}
		tok, _ := oidctest.Sign(jose.RS256, other, kid, oidctest.Claims(iss, func(c map[string]any) { c["sub"] = kid }))
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged token %d: err = %v, want ErrInvalidToken", i, err)
		}
	}
	if n := jwksHits.Load(); n > 2 {
		t.Fatalf("JWKS fetched %d times for 1 good and 40 forged tokens, want at most 2", n)
	}
	// The good token still verifies: held keys need no fetch.
	good2, _ := iss.Sign(devissuer.Claims{Subject: "b"})
	if _, err := v.Verify(context.Background(), good2); err != nil {
		t.Fatal(err)
	}
}
