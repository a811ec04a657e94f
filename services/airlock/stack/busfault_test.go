package stack

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bus"
)

// TestBusRestartUnderLoad restarts the NATS server (same port, same store)
// while requests keep coming: requests during the outage are refused, none
// is forwarded without a verdict, and traffic flows again within 5 s of the
// server's return without restarting any service.
func TestBusRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	storeDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stopBus func()
	start := func() {
		t.Helper()
		ns, err := bus.StartEmbedded(bus.Embedded{StoreDir: storeDir, Listen: addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ns.Shutdown)
		stopBus = func() { ns.Shutdown(); ns.WaitForShutdown() }
	}
	start()
	ts := newTestStack(t, stackOptions{decisionTimeout: 500 * time.Millisecond, natsURL: "nats://" + addr})
	tok := ts.token(t, "agents")

	// Load: sequential GETs from two clients until told to stop.
	// withheld counts the 503s for a response the masker could not be
	// asked about: forwarded under a verdict, the body kept back.
	type tally struct{ ok, refused, withheld, other int }
	stop := make(chan struct{})
	results := make(chan tally, 2)
	for range 2 {
		go func() {
			var n tally
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					results <- n
					return
				default:
				}
				req, _ := http.NewRequest("GET", ts.IngressURL+"/gh/repos/acme/api", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					n.other++
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					n.ok++
				case http.StatusServiceUnavailable:
					n.refused++
					if strings.Contains(string(body), `"masker_unavailable"`) {
						n.withheld++
					}
				default:
					n.other++
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	stopBus()
	time.Sleep(time.Second)
	start()
	back := time.Now()
	// Within 5 s a request passes again.
	probeWithheld := 0
	for {
		resp, body := ts.do(t, "GET", "/gh/repos/acme/api", tok, nil)
		if strings.Contains(string(body), `"masker_unavailable"`) {
			probeWithheld++
		}
		if resp.StatusCode == http.StatusOK {
			t.Logf("traffic flows again %s after the server's return", time.Since(back).Round(10*time.Millisecond))
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("still %d 5s after the bus returned: %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	var total tally
	for range 2 {
		n := <-results
		total.ok, total.refused, total.other = total.ok+n.ok, total.refused+n.refused, total.other+n.other
		total.withheld += n.withheld
	}
	t.Logf("during the test: %d allowed, %d refused (503; %d of them responses withheld), %d other", total.ok, total.refused, total.withheld, total.other)
	if total.refused == 0 {
		t.Error("no request was refused while the bus was down")
	}
	if total.other != 0 {
		t.Errorf("%d requests got neither 200 nor 503", total.other)
	}
	// Every forwarded request was one the agent got a 200 for, or one
	// whose response was withheld unmasked: nothing reached the upstream
	// without a verdict.
	if got, want := ts.up.calls.Load(), int64(total.ok+total.withheld+probeWithheld+1); got != want {
		t.Errorf("upstream calls = %d, want %d (the allowed ones)", got, want)
	}
}
