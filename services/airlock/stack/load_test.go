package stack

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockhq/airlock/services/ingress"
)

// tally is what a load run got back. withheld counts the 503s for a
// response the masker could not be asked about: forwarded under a
// verdict, the body kept back.
type tally struct {
	ok, refused, withheld, other int
	// answered are the request ids of the 200s.
	answered []string
	// others are a few of the unexpected answers, for the failure message.
	others []string
}

// startLoad sends GETs to base+"/<n>" from clients goroutines, each one
// request at a time, until the returned stop is called; stop returns what
// came back. Refusals (503, 504) are expected during a fault; anything else
// but a 200 is counted in other.
func startLoad(t *testing.T, base, token string, clients int) (stop func() tally) {
	t.Helper()
	var mu sync.Mutex
	var total tally
	done := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Longer than the gateway's own bound on an answer (the
			// decision timeout, then the masker's 5 s): a request the
			// client gave up on would be neither answered nor refused.
			client := &http.Client{Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				req, _ := http.NewRequest("GET", base+"/"+strconv.Itoa(c*1_000_000+i), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					total.other++
					if len(total.others) < 5 {
						total.others = append(total.others, err.Error())
					}
				case resp.StatusCode == http.StatusOK:
					total.ok++
					total.answered = append(total.answered, resp.Header.Get(ingress.RequestIDHeader))
				case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
					total.refused++
					if strings.Contains(string(body), `"masker_unavailable"`) {
						total.withheld++
					}
				default:
					total.other++
					if len(total.others) < 5 {
						total.others = append(total.others, strconv.Itoa(resp.StatusCode)+" "+string(body))
					}
				}
				mu.Unlock()
			}
		}()
	}
	return func() tally {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return total
	}
}

// awaitFlowing waits up to within for a GET to pass again, and returns
// how long it took; the probes that were withheld (see tally) are counted
// in withheld.
func awaitFlowing(t *testing.T, ts *testStack, path, token string, within time.Duration, withheld *int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp, body := ts.do(t, "GET", path, token, nil)
		if strings.Contains(string(body), `"masker_unavailable"`) {
			*withheld++
		}
		if resp.StatusCode == http.StatusOK {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("still %d %s after %s", resp.StatusCode, body, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
