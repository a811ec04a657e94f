package stack

import (
	"context"
	"net"
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

	stop := startLoad(t, ts.IngressURL+"/gh/repos/acme/api/issues", tok, 2)
	time.Sleep(500 * time.Millisecond)
	stopBus()
	time.Sleep(time.Second)
	start()
	probeWithheld := 0
	took := awaitFlowing(t, ts, "/gh/repos/acme/api", tok, 5*time.Second, &probeWithheld)
	t.Logf("traffic flows again %s after the server's return", took.Round(10*time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	total := stop()
	t.Logf("during the test: %d allowed, %d refused (503; %d of them responses withheld), %d other", total.ok, total.refused, total.withheld, total.other)
	if total.refused == 0 {
		t.Error("no request was refused while the bus was down")
	}
	if total.other != 0 {
		t.Errorf("%d requests got neither 200 nor 503: %q", total.other, total.others)
	}
	// Every forwarded request was one the agent got a 200 for, or one
	// whose response was withheld unmasked: nothing reached the upstream
	// without a verdict.
	if got, want := ts.up.calls.Load(), int64(total.ok+total.withheld+probeWithheld+1); got != want {
		t.Errorf("upstream calls = %d, want %d (the allowed ones)", got, want)
	}
	// Nothing answered before, during or after the restart is missing
	// from the audit stream or the recordings.
	_, js := connect(t, "nats://"+addr)
	checkAuditedAndRecorded(t, ts, js, total.answered)
}

// TestServicesKilledUnderLoad stops the policy service, then the masker,
// while two clients send requests, and starts each again: requests in
// flight and new ones are refused with a JSON 503 or 504, none is
// forwarded without a verdict or answered unmasked, and traffic flows again
// within 5 s of the service's return without restarting the ingress.
func TestServicesKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("stops services under load")
	}
	ts := newTestStack(t, stackOptions{decisionTimeout: 500 * time.Millisecond, maskTimeout: 500 * time.Millisecond})
	tok := ts.token(t, "agents")
	for _, svc := range []struct {
		name        string
		stop, start func() error
	}{
		{"policy", func() error { ts.StopPolicy(); return nil }, func() error { return ts.StartPolicy(context.Background()) }},
		{"masker", func() error { ts.StopMasker(); return nil }, ts.StartMasker},
	} {
		t.Run(svc.name, func(t *testing.T) {
			calls := ts.up.calls.Load()
			stop := startLoad(t, ts.IngressURL+"/gh/repos/acme/api/issues", tok, 2)
			time.Sleep(300 * time.Millisecond)
			if err := svc.stop(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			if err := svc.start(); err != nil {
				t.Fatal(err)
			}
			probeWithheld := 0
			took := awaitFlowing(t, ts, "/gh/repos/acme/api", tok, 5*time.Second, &probeWithheld)
			time.Sleep(300 * time.Millisecond)
			total := stop()
			t.Logf("%s down 1 s: %d allowed, %d refused (%d withheld), %d other; flowing again %s after its return",
				svc.name, total.ok, total.refused, total.withheld, total.other, took.Round(10*time.Millisecond))
			if total.refused == 0 {
				t.Errorf("no request refused while the %s was down", svc.name)
			}
			if total.other != 0 {
				t.Errorf("%d requests got neither 200 nor a refusal: %q", total.other, total.others)
			}
			if got, want := ts.up.calls.Load()-calls, int64(total.ok+total.withheld+probeWithheld+1); got != want {
				t.Errorf("upstream calls = %d, want %d: forwarded without an answer", got, want)
			}
		})
	}
}
