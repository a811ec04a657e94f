package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder"
)

// natsCluster is three embedded nats-servers routed into one JetStream
// cluster, on loopback.
type natsCluster struct {
	servers []*server.Server
	urls    []string
}

func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	const n = 3
	// The route ports are picked free, then listened on by the servers: in
	// between another process may take one, and that node never becomes
	// ready. Then the cluster is started again on new ports.
	var c *natsCluster
	for attempt := 1; c == nil; attempt++ {
		var err error
		if c, err = tryNATSCluster(t, n); err != nil {
			if attempt == 3 {
				t.Fatal(err)
			}
			t.Logf("attempt %d: %v; again on other ports", attempt, err)
		}
	}
	// JetStream is usable once the meta group has a leader.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, ns := range c.servers {
			if ns.JetStreamIsClustered() && ns.JetStreamIsCurrent() {
				ready++
			}
		}
		if ready == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("JetStream cluster not formed in 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A leader may not yet count every peer online: wait until a stream
	// can be placed on all three.
	_, js := connect(t, strings.Join(c.urls, ","))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PLACEMENT_PROBE", Subjects: []string{"probe.placement"}, Replicas: n, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "PLACEMENT_PROBE")
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream placed on %d peers in 60 s: %v", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c
}

// tryNATSCluster starts n servers routed to each other, and fails when one
// is not ready for connections within 30 s; it then shuts down those it
// started.
func tryNATSCluster(t *testing.T, n int) (*natsCluster, error) {
	t.Helper()
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		clusterPorts[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	c := &natsCluster{}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), JetStreamMaxMemory: 64 << 20,
			MaxPayload: bus.MaxPayload, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "airlock-test", Host: "127.0.0.1", Port: clusterPorts[i]},
		}
		for j, p := range clusterPorts {
			if j != i {
				opts.Routes = append(opts.Routes, server.RoutesFromStr(fmt.Sprintf("nats://127.0.0.1:%d", p))...)
			}
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		c.servers = append(c.servers, ns)
	}
	for i, ns := range c.servers {
		if !ns.ReadyForConnections(30 * time.Second) {
			for _, s := range c.servers {
				s.Shutdown()
				s.WaitForShutdown()
			}
			return nil, fmt.Errorf("cluster node n%d not ready in 30 s", i+1)
		}
		c.urls = append(c.urls, ns.ClientURL())
	}
	for _, ns := range c.servers {
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	return c, nil
}

// TestClusterNodeLossUnderLoad runs the stack on a 3-node NATS cluster with
// every stream and bucket replicated 3 times, and kills the node leading
// the AIRLOCK stream while two clients send requests. Requests may be
// refused during the election, never forwarded without a verdict; every
// request the agent was answered for has its audit event and its
// recording.
func TestClusterNodeLossUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	cl := startNATSCluster(t)
	ts := newTestStack(t, stackOptions{decisionTimeout: 2 * time.Second, natsURL: strings.Join(cl.urls, ","), natsReplicas: 3})
	tok := ts.token(t, "agents")

	_, js := connect(t, strings.Join(cl.urls, ","))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info, err := js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	si := info.CachedInfo()
	if si.Config.Replicas != 3 || si.Cluster == nil || len(si.Cluster.Replicas) != 2 {
		t.Fatalf("AIRLOCK is not replicated on 3 nodes: %d replicas, cluster %+v", si.Config.Replicas, si.Cluster)
	}

	stop := startLoad(t, ts.IngressURL+"/gh/repos/acme/api/issues", tok, 2)
	time.Sleep(time.Second)
	leader := si.Cluster.Leader
	for _, ns := range cl.servers {
		if ns.Name() == leader {
			ns.Shutdown()
			t.Logf("killed %s, the AIRLOCK stream's leader", leader)
		}
	}
	time.Sleep(4 * time.Second)
	total := stop()
	answered := total.answered
	t.Logf("%d answered 200, %d refused (503/504; %d of them responses withheld), %d other", total.ok, total.refused, total.withheld, total.other)
	if total.other != 0 {
		t.Errorf("%d requests got neither 200 nor a refusal: %q", total.other, total.others)
	}
	if len(answered) < 50 {
		t.Fatalf("only %d requests answered: the load did not run", len(answered))
	}
	// Every upstream call was answered, or its response withheld because
	// the masker's reply was lost with the node (a 503 after a verdict).
	if got, want := ts.up.calls.Load(), int64(total.ok+total.withheld); got != want {
		t.Errorf("upstream calls %d, answered %d and withheld %d: a request was forwarded without its answer", got, total.ok, total.withheld)
	}

	checkAuditedAndRecorded(t, ts, js, answered)
	// Events whose first publish failed in the election were sent again.
	stored, lost := metricValue(t, ts.Registry, "airlock_ingress_events_republished_total", "stored"),
		metricValue(t, ts.Registry, "airlock_ingress_events_republished_total", "lost")
	t.Logf("events published again after a failed ack: %v stored, %v lost", stored, lost)
	if lost != 0 {
		t.Errorf("%v events lost", lost)
	}
}

// checkAuditedAndRecorded wants every answered request's audit event in
// AIRLOCK_AUDIT and its record in the recordings store, waiting for them
// a while: nothing the agent was answered for is lost.
func checkAuditedAndRecorded(t *testing.T, ts *testStack, js jetstream.JetStream, answered []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Every answered request has its audit event...
	audited := map[string]bool{}
	cons, err := js.OrderedConsumer(ctx, subject.AuditStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var a event.Audit
			if err := json.Unmarshal(m.Data(), &a); err == nil {
				audited[a.ID] = true
			}
		}
		if n == 0 {
			if missing(answered, audited) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if m := missing(answered, audited); m != 0 {
		t.Errorf("%d of %d answered requests have no audit event", m, len(answered))
	}
	// ...and its recording.
	st := ts.Recordings()
	recorded := map[string]bool{}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		keys, err := st.List(ctx, recorder.SessionsPrefix)
		if err != nil {
			continue // the store's leader may be moving
		}
		for _, k := range keys {
			recorded[strings.TrimSuffix(k[strings.LastIndexByte(k, '/')+1:], ".json.gz")] = true
		}
		if missing(answered, recorded) == 0 {
			break
		}
	}
	if m := missing(answered, recorded); m != 0 {
		t.Errorf("%d of %d answered requests have no recording", m, len(answered))
	}
}

func missing(ids []string, have map[string]bool) int {
	n := 0
	for _, id := range ids {
		if !have[id] {
			n++
		}
	}
	return n
}
