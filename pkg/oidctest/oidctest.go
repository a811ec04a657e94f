// Package oidctest forges the tokens an attacker would try against an
// issuer's verifier: each is wrong in exactly one way. Tests of the
// verifier and end-to-end tests of the ingress share this one table.
package oidctest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/airlockhq/airlock/pkg/devissuer"
)

// Token is a named forged token.
type Token struct {
	Name  string
	Value string
}

// Claims returns valid claims for iss, changed by mod.
func Claims(iss *devissuer.Issuer, mod func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss.URL(), "sub": "copilot", "aud": iss.Audience(),
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"groups": []string{"agents"},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// Sign signs claims with key under alg and kid.
func Sign(alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("creating signer: %w", err)
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// SignWithIssuerKey signs claims with the issuer's own current key: a
// genuine signature over whatever claims the test wants.
func SignWithIssuerKey(iss *devissuer.Issuer, claims map[string]any) (string, error) {
	k := iss.SigningKey()
	return Sign(jose.RS256, k.Key, k.KeyID, claims)
}

// BadTokens returns tokens that a verifier trusting iss must refuse.
func BadTokens(iss *devissuer.Issuer) ([]Token, error) {
	key := iss.SigningKey()
	rsaKey, ok := key.Key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("issuer key is %T, want RSA", key.Key)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		return nil, err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})

	var toks []Token
	add := func(name, v string, err error) error {
		if err != nil {
			return fmt.Errorf("forging %s: %w", name, err)
		}
		toks = append(toks, Token{name, v})
		return nil
	}
	genuine := func(mod func(map[string]any)) (string, error) {
		return Sign(jose.RS256, rsaKey, key.KeyID, Claims(iss, mod))
	}

	good, err := genuine(nil)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	sig[10] ^= 'A' ^ 'B'

	h := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.KeyID})
	p := b64(Claims(iss, nil))
	mac := hmac.New(sha256.New, pubPEM)
	mac.Write([]byte(h + "." + p))
	hs256 := h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	steps := []struct {
		name string
		tok  func() (string, error)
	}{
		{"garbage", func() (string, error) { return "not-a-token", nil }},
		{"three garbage parts", func() (string, error) { return "a.b.c", nil }},
		{"bad signature", func() (string, error) { return parts[0] + "." + parts[1] + "." + string(sig), nil }},
		{"signed by another key under the issuer's kid", func() (string, error) { return Sign(jose.RS256, other, key.KeyID, Claims(iss, nil)) }},
		{"alg none", func() (string, error) {
			return b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(Claims(iss, nil)) + ".", nil
		}},
		{"HS256 signed with the RSA public key", func() (string, error) { return hs256, nil }},
		{"expired", func() (string, error) {
			return genuine(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() })
		}},
		{"not yet valid", func() (string, error) {
			return genuine(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })
		}},
		{"wrong issuer", func() (string, error) {
			return genuine(func(c map[string]any) { c["iss"] = "https://evil.example.com" })
		}},
		{"no issuer", func() (string, error) { return genuine(func(c map[string]any) { delete(c, "iss") }) }},
		{"wrong audience", func() (string, error) { return genuine(func(c map[string]any) { c["aud"] = "someone-else" }) }},
		{"no subject", func() (string, error) { return genuine(func(c map[string]any) { delete(c, "sub") }) }},
		{"unknown kid", func() (string, error) { return Sign(jose.RS256, other, "no-such-kid", Claims(iss, nil)) }},
	}
	for _, s := range steps {
		v, err := s.tok()
		if err := add(s.name, v, err); err != nil {
			return nil, err
		}
	}
	return toks, nil
}

func b64(v any) string {
	data, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(data)
}
