// Package tlstest makes throwaway certificates for tests: a certificate
// authority, and the server and client certificates it signs, written as
// PEM files into a temp dir. Nothing is committed; every test run has its
// own keys.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// validity is how long a certificate is valid, from an hour ago (a clock a
// little behind is no matter).
const validity = 24 * time.Hour

// CA is a certificate authority for one test.
type CA struct {
	// Dir holds the PEM files of the CA and of the certificates it signs.
	Dir string
	// CertFile is the CA's certificate (PEM): what a peer trusts.
	CertFile string

	cert *x509.Certificate
	key  crypto.Signer

	mu sync.Mutex
	n  int // certificates signed, for their file names
}

// Cert is a certificate signed by a CA, and its private key, as PEM files
// in the CA's directory.
type Cert struct {
	CertFile string
	KeyFile  string
}

// NewCA makes a CA whose files are removed when the test ends.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "airlock test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("creating the CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing the CA certificate: %v", err)
	}
	ca := &CA{Dir: t.TempDir(), cert: cert, key: key}
	ca.CertFile = filepath.Join(ca.Dir, "ca.pem")
	writePEM(t, ca.CertFile, "CERTIFICATE", der, 0o644)
	return ca
}

// Pool is a pool holding the CA's certificate only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Server signs a server certificate for hosts, IP addresses or DNS names;
// none means 127.0.0.1 and localhost.
func (ca *CA) Server(t testing.TB, hosts ...string) Cert {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.sign(t, "server", tmpl)
}

// Client signs a client certificate, for mutual TLS, with name as its
// common name.
func (ca *CA) Client(t testing.TB, name string) Cert {
	t.Helper()
	return ca.sign(t, "client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// sign completes tmpl, signs it with a new key, and writes both files.
func (ca *CA) sign(t testing.TB, kind string, tmpl *x509.Certificate) Cert {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(validity)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("signing a %s certificate: %v", kind, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding a %s key: %v", kind, err)
	}
	ca.mu.Lock()
	ca.n++
	base := filepath.Join(ca.Dir, fmt.Sprintf("%s-%d", kind, ca.n))
	ca.mu.Unlock()
	c := Cert{CertFile: base + ".pem", KeyFile: base + "-key.pem"}
	writePEM(t, c.CertFile, "CERTIFICATE", der, 0o644)
	writePEM(t, c.KeyFile, "PRIVATE KEY", keyDER, 0o600)
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("generating a serial number: %v", err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte, perm os.FileMode) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
