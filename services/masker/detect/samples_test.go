package detect

import (
	"sync"
	"testing"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

var (
	sharedOnce sync.Once
	sharedDet  *Detector
	sharedErr  error
)

// detector returns a Detector on the default catalogue, built once: New
// compiles a few hundred regular expressions.
func detector(t testing.TB) *Detector {
	t.Helper()
	sharedOnce.Do(func() { sharedDet, sharedErr = New(Options{}) })
	if sharedErr != nil {
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedDet
}

// bareSecrets are the corpus's secrets that the engine finds with nothing
// around them: not those whose rule needs a keyword beside the secret
// (generic-api-key, heroku-api-key…).
func bareSecrets(t testing.TB) []corpus.Secret {
	t.Helper()
	d := detector(t)
	var out []corpus.Secret
	for _, s := range corpus.Secrets() {
		if len(d.Find([]byte(" "+s.Value+"\n"))) == 1 {
			out = append(out, s)
		}
	}
	return out
}
