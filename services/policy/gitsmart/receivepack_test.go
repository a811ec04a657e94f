package gitsmart

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Object ids and capability lists as git 2.39.5 sends them; see
// TestReceivePackFromGit for the real exchange.
const (
	zero1 = "0000000000000000000000000000000000000000"
	one1  = "79b3e95adacf1d837b58debaf32281261af479c8"
	two1  = "6506ab0e32fae1196dab6b16883ff6500c8d73b0"
	zero2 = "0000000000000000000000000000000000000000000000000000000000000000"
	one2  = "83e3bd169933e2eb06e656cfd7946adbca7dd238f2b63595d75ef6596e64d8dd"
	two2  = "9a66f6ae3148bae29436a832cb75abe7555d546fdab3a467321e27b0eaa97cb1"

	caps1 = " report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5"
	caps2 = " report-status-v2 side-band-64k quiet object-format=sha256 agent=git/2.39.5"

	// pack is the start of a packfile: signature, version 2, 0 objects.
	pack = "PACK\x00\x00\x00\x02\x00\x00\x00\x00"
)

var capList1 = []string{"report-status-v2", "side-band-64k", "quiet", "object-format=sha1", "agent=git/2.39.5"}

// cmd frames one command as git's send-pack writes it: capabilities after
// a NUL on the first command only, no trailing newline.
func cmd(old, nu, ref, caps string) string {
	if caps != "" {
		return pkt(old + " " + nu + " " + ref + "\x00" + caps)
	}
	return pkt(old + " " + nu + " " + ref)
}

// signedPush is a push certificate as send-pack's generate_push_cert
// frames it (one pkt-line per certificate line), followed by the flush and
// the packfile.
func signedPush(signature string) string {
	return pkt("push-cert\x00"+caps1) +
		pkt("certificate version 0.1\n") +
		pkt("pusher Alice <alice@example.com> 1700000000 +0000\n") +
		pkt("pushee https://github.com/acme/api.git\n") +
		pkt("nonce 1700000000-0123456789abcdef\n") +
		pkt("\n") +
		pkt(one1+" "+two1+" refs/heads/main\n") +
		pkt(zero1+" "+two1+" refs/tags/v1\n") +
		signature +
		pkt("push-cert-end\n") +
		"0000" + pack
}

const pgpSignature = "" +
	"-----BEGIN PGP SIGNATURE-----\n" +
	"\n" +
	"iHUEABYKAB0WIQTk0sYpNfHgrmWH0bV0Jo6sDK7ffwUCZVt4ZAAKCRB0Jo6sDK7f\n" +
	"-----END PGP SIGNATURE-----\n"

func pktLines(text string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if l != "" {
			b.WriteString(pkt(l))
		}
	}
	return b.String()
}

var (
	createMain = RefUpdate{Ref: "refs/heads/main", Old: zero1, New: one1, Kind: KindCreate, Branch: "main"}
	updateMain = RefUpdate{Ref: "refs/heads/main", Old: one1, New: two1, Kind: KindUpdate, Branch: "main"}
	deleteMain = RefUpdate{Ref: "refs/heads/main", Old: two1, New: zero1, Kind: KindDelete, Branch: "main"}
	createTag  = RefUpdate{Ref: "refs/tags/v1", Old: zero1, New: two1, Kind: KindCreate, Tag: "v1"}
)

func TestParseReceivePack(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Push
	}{
		{
			name: "create",
			body: cmd(zero1, one1, "refs/heads/main", caps1) + "0000" + pack,
			want: Push{Updates: []RefUpdate{createMain}, Capabilities: capList1, Packfile: true},
		},
		{
			name: "update",
			body: cmd(one1, two1, "refs/heads/main", caps1) + "0000" + pack,
			want: Push{Updates: []RefUpdate{updateMain}, Capabilities: capList1, Packfile: true},
		},
		{
			// git sends no packfile when every command is a delete.
			name: "delete only",
			body: cmd(two1, zero1, "refs/heads/main", caps1) + "0000",
			want: Push{Updates: []RefUpdate{deleteMain}, Capabilities: capList1},
		},
		{
			name: "several refs, capabilities on the first only",
			body: cmd(zero1, one1, "refs/heads/main", caps1) +
				cmd(zero1, two1, "refs/tags/v1", "") +
				cmd(two1, zero1, "refs/heads/main", "") +
				cmd(one1, two1, "refs/pull/1/head", "") +
				cmd(one1, two1, "refs/notes/commits", "") + "0000" + pack,
			want: Push{Updates: []RefUpdate{
				createMain,
				createTag,
				deleteMain,
				{Ref: "refs/pull/1/head", Old: one1, New: two1, Kind: KindUpdate},
				{Ref: "refs/notes/commits", Old: one1, New: two1, Kind: KindUpdate},
			}, Capabilities: capList1, Packfile: true},
		},
		{
			name: "sha256",
			body: cmd(zero2, one2, "refs/heads/main", caps2) + cmd(one2, two2, "refs/heads/dev", "") + "0000" + pack,
			want: Push{Updates: []RefUpdate{
				{Ref: "refs/heads/main", Old: zero2, New: one2, Kind: KindCreate, Branch: "main"},
				{Ref: "refs/heads/dev", Old: one2, New: two2, Kind: KindUpdate, Branch: "dev"},
			}, Capabilities: []string{"report-status-v2", "side-band-64k", "quiet", "object-format=sha256", "agent=git/2.39.5"}, Packfile: true},
		},
		{
			name: "sha256 without object-format",
			body: cmd(one2, zero2, "refs/heads/dev", " report-status") + "0000",
			want: Push{Updates: []RefUpdate{
				{Ref: "refs/heads/dev", Old: one2, New: zero2, Kind: KindDelete, Branch: "dev"},
			}, Capabilities: []string{"report-status"}},
		},
		{
			// git receive-pack treats it as deleting a ref that does not exist.
			name: "both ids zero",
			body: cmd(zero1, zero1, "refs/heads/main", caps1) + "0000",
			want: Push{Updates: []RefUpdate{{Ref: "refs/heads/main", Old: zero1, New: zero1, Kind: KindDelete, Branch: "main"}}, Capabilities: capList1},
		},
		{
			name: "nested branch and tag names",
			body: cmd(zero1, one1, "refs/heads/feature/x-1", caps1) + cmd(zero1, one1, "refs/tags/release/v1.2", "") + "0000" + pack,
			want: Push{Updates: []RefUpdate{
				{Ref: "refs/heads/feature/x-1", Old: zero1, New: one1, Kind: KindCreate, Branch: "feature/x-1"},
				{Ref: "refs/tags/release/v1.2", Old: zero1, New: one1, Kind: KindCreate, Tag: "release/v1.2"},
			}, Capabilities: capList1, Packfile: true},
		},
		{
			// The protocol allows a trailing LF on every line.
			name: "trailing newlines",
			body: pkt(zero1+" "+one1+" refs/heads/main\x00 report-status\n") + pkt(zero1+" "+two1+" refs/tags/v1\n") + "0000" + pack,
			want: Push{Updates: []RefUpdate{createMain, createTag}, Capabilities: []string{"report-status"}, Packfile: true},
		},
		{
			name: "no capabilities",
			body: pkt(zero1+" "+one1+" refs/heads/main") + "0000" + pack,
			want: Push{Updates: []RefUpdate{createMain}, Packfile: true},
		},
		{
			name: "shallow lines first",
			body: pkt("shallow "+one1) + pkt("shallow "+two1+"\n") + cmd(one1, two1, "refs/heads/main", caps1) + "0000" + pack,
			want: Push{Updates: []RefUpdate{updateMain}, Capabilities: capList1, Packfile: true},
		},
		{
			name: "push options",
			body: cmd(zero1, one1, "refs/heads/main", " report-status-v2 push-options object-format=sha1") + "0000" +
				pkt("ci.skip") + pkt("merge_request.create\n") + "0000" + pack,
			want: Push{
				Updates:      []RefUpdate{createMain},
				Capabilities: []string{"report-status-v2", "push-options", "object-format=sha1"},
				PushOptions:  []string{"ci.skip", "merge_request.create"},
				Packfile:     true,
			},
		},
		{
			name: "push options capability without options",
			body: cmd(two1, zero1, "refs/heads/main", " push-options") + "0000" + "0000",
			want: Push{Updates: []RefUpdate{deleteMain}, Capabilities: []string{"push-options"}},
		},
		{
			name: "signed push, OpenPGP",
			body: signedPush(pktLines(pgpSignature)),
			want: Push{Updates: []RefUpdate{updateMain, createTag}, Capabilities: capList1, Packfile: true},
		},
		{
			name: "signed push, SSH",
			body: signedPush(pktLines("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg\n-----END SSH SIGNATURE-----\n")),
			want: Push{Updates: []RefUpdate{updateMain, createTag}, Capabilities: capList1, Packfile: true},
		},
		{
			// git ends a certificate at a flush-pkt and still runs its commands.
			name: "push certificate ended by a flush",
			body: pkt("push-cert\x00"+caps1) + pktLines("certificate version 0.1\n\n"+one1+" "+two1+" refs/heads/main\n") + "0000" + pack,
			want: Push{Updates: []RefUpdate{updateMain}, Capabilities: capList1, Packfile: true},
		},
		{
			name: "push certificate split across pkt-lines differently",
			body: pkt("push-cert\x00"+caps1) + pkt("certificate version 0.1\npusher A <a@b> 1 +0000\n\n"+one1) +
				pkt(" "+two1+" refs/heads/main\n"+pgpSignature) + pkt("push-cert-end\n") + "0000",
			want: Push{Updates: []RefUpdate{updateMain}, Capabilities: capList1},
		},
		{
			name: "shallow then push certificate",
			body: pkt("shallow "+one1) + signedPush(pktLines(pgpSignature)),
			want: Push{Updates: []RefUpdate{updateMain, createTag}, Capabilities: capList1, Packfile: true},
		},
		{
			// The probe git sends before a large push.
			name: "flush only",
			body: "0000",
			want: Push{},
		},
		{
			name: "packfile without commands",
			body: "0000" + pack,
			want: Push{Packfile: true},
		},

		// Truncated bodies.
		{
			name: "empty",
			body: "",
			want: Push{Truncated: true},
		},
		{
			name: "cut after a command",
			body: cmd(zero1, one1, "refs/heads/main", caps1) + cmd(zero1, two1, "refs/tags/v1", ""),
			want: Push{Updates: []RefUpdate{createMain, createTag}, Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in a pkt-line header",
			body: cmd(zero1, one1, "refs/heads/main", caps1) + "00",
			want: Push{Updates: []RefUpdate{createMain}, Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in a pkt-line payload",
			body: cmd(zero1, one1, "refs/heads/main", caps1) + cmd(zero1, two1, "refs/tags/v1", "")[:30],
			want: Push{Updates: []RefUpdate{createMain}, Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in the packfile signature",
			body: cmd(zero1, one1, "refs/heads/main", caps1) + "0000PA",
			want: Push{Updates: []RefUpdate{createMain}, Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in the push options",
			body: cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + pkt("ci.skip"),
			want: Push{Updates: []RefUpdate{createMain}, Capabilities: []string{"push-options"}, PushOptions: []string{"ci.skip"}, Truncated: true},
		},
		{
			name: "cut in a push certificate header",
			body: signedPush(pktLines(pgpSignature))[:200],
			want: Push{Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in the commands of a push certificate",
			body: signedPush(pktLines(pgpSignature))[:strings.Index(signedPush(""), "refs/tags/v1")],
			want: Push{Updates: []RefUpdate{updateMain}, Capabilities: capList1, Truncated: true},
		},
		{
			name: "cut in the signature of a push certificate",
			body: signedPush(pktLines(pgpSignature))[:strings.Index(signedPush(pktLines(pgpSignature)), "iHUE")],
			want: Push{Updates: []RefUpdate{updateMain, createTag}, Capabilities: capList1, Truncated: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReceivePack([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseReceivePack: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReceivePack =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseReceivePackErrors(t *testing.T) {
	first := cmd(zero1, one1, "refs/heads/main", caps1)
	tests := []struct {
		name, body, err string
	}{
		// pkt-line framing.
		{"non-hex length", "00g0" + first, `invalid length "00g0"`},
		{"partial non-hex length", "0x", `invalid length "0x"`},
		{"length 3", "0003", `invalid length "0003"`},
		{"length over the maximum", "fff1" + strings.Repeat("x", 0xfff1), "over the maximum"},
		{"delim-pkt", first + "0001", "offset 175: unexpected delim-pkt in the command list"},
		{"response-end-pkt", "0002", "unexpected response-end-pkt in the command list"},
		{"gzip body", "\x1f\x8b\x08\x00\x00\x00\x00\x00", "invalid length"},
		// Commands.
		{"empty line", "0004", "command is not <old-id> <new-id> <ref>"},
		{"two fields", pkt(zero1 + " " + one1), "command is not"},
		{"double space", pkt(zero1 + "  " + one1 + " refs/heads/main"), "new object id: length 0"},
		{"short id", pkt(zero1[1:] + " " + one1 + " refs/heads/main"), "old object id: length 39"},
		{"uppercase id", pkt(strings.ToUpper(one1) + " " + two1 + " refs/heads/main"), "old object id: not lowercase hex"},
		{"non-hex id", pkt(zero1 + " " + strings.Repeat("g", 40) + " refs/heads/main"), "new object id: not lowercase hex"},
		{"mixed id lengths in a command", pkt(zero1 + " " + one2 + " refs/heads/main"), "new object id: length 64, want 40"},
		{"mixed id lengths across commands", first + cmd(zero2, one2, "refs/heads/x", ""), "old object id: length 64, want 40"},
		{"object format mismatch", cmd(zero1, one1, "refs/heads/main", caps2), "old object id: length 40, want 64"},
		{"unknown object format", cmd(zero1, one1, "refs/heads/main", " object-format=md5"), "unknown object format"},
		{"capabilities on a later command", first + cmd(zero1, two1, "refs/tags/v1", caps1), "capabilities after the first command"},
		{"NUL on a later command", first + pkt(zero1+" "+two1+" refs/tags/v1\x00"), "capabilities after the first command"},
		{"invalid ref", cmd(zero1, one1, "refs/heads/a..b", caps1), "invalid ref name"},
		{"ref with a space", cmd(zero1, one1, "refs/heads/a b", caps1), "invalid ref name"},
		{"ref outside refs/", cmd(zero1, one1, "HEAD", caps1), "invalid ref name"},
		// Shallow lines.
		{"shallow after a command", first + pkt("shallow "+one1), "shallow line after a command"},
		{"shallow with a bad id", pkt("shallow xyz"), "shallow line: length 3"},
		{"shallow and object format mismatch", pkt("shallow "+one1) + cmd(zero2, one2, "refs/heads/main", caps2), "object format sha256 does not match"},
		// After the commands.
		{"data after the commands", first + "0000junk", "data after the commands is not a packfile"},
		{"second flush", first + "00000000", "data after the commands is not a packfile"},
		{"delim in the push options", cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + "0001" + pack, "unexpected delim-pkt in the push options"},
		{"NUL in a push option", cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + pkt("a\x00b") + "0000", "NUL in a push option"},
		// Push certificates.
		{"push-cert after a command", first + pkt("push-cert"), "command is not"},
		{"command after the certificate", strings.TrimSuffix(signedPush(pktLines(pgpSignature)), "0000"+pack) + first + "0000", "after a push certificate, want a flush-pkt"},
		{"no blank line in the certificate", pkt("push-cert\x00"+caps1) + pkt("certificate version 0.1\n") + pkt("push-cert-end\n") + "0000", "push certificate without a blank line"},
		{"NUL in the certificate", pkt("push-cert\x00"+caps1) + pkt("certificate version 0.1\x00\n") + pkt("push-cert-end\n") + "0000", "NUL in a push certificate"},
		{"malformed certificate command", pkt("push-cert\x00"+caps1) + pktLines("certificate version 0.1\n\nupdate main\n") + pkt("push-cert-end\n") + "0000", "push certificate: command is not"},
		{"delim in the certificate", pkt("push-cert\x00"+caps1) + "0001", "unexpected delim-pkt in a push certificate"},
		{
			// git finds the commands before the last signature line, so a
			// command after a first signature is still a command.
			"signature line before a bad command",
			pkt("push-cert\x00"+caps1) + pktLines("certificate version 0.1\n\n"+one1+" "+two1+" refs/heads/main\n-----BEGIN SSH SIGNATURE-----\nbad\n"+pgpSignature) + pkt("push-cert-end\n") + "0000",
			"push certificate: old object id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReceivePack([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseReceivePack = %+v, want an error containing %q", got, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q, want one containing %q", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "parsing receive-pack request: ") {
				t.Errorf("error %q does not name the step", err)
			}
			if !reflect.DeepEqual(got, Push{}) {
				t.Errorf("ParseReceivePack returned %+v with an error, want the zero Push", got)
			}
		})
	}
}

func TestValidRef(t *testing.T) {
	valid := []string{
		"refs/heads/main", "refs/heads/feature/x", "refs/tags/v1.2.0", "refs/pull/1/head",
		"refs/heads/café", "refs/heads/a.b", "refs/heads/a@b", "refs/heads/@", "refs/heads/a{b}",
		"refs/for/main%topic=x", "refs/heads/x.locked",
	}
	invalid := []string{
		"", "HEAD", "main", "refs/", "refs/main", "refs/@", "heads/main", "refs//heads/main",
		"refs/heads/", "refs/heads//x", "refs/heads/x/", "refs/heads/.x", "refs/heads/x/.y",
		"refs/heads/x.lock", "refs/heads/x.lock/y", "refs/heads/a..b", "refs/heads/x.",
		"refs/heads/a@{1}", "refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b",
		"refs/heads/a?", "refs/heads/a*", "refs/heads/a[b", "refs/heads/a\\b",
		"refs/heads/a\x00", "refs/heads/a\x1f", "refs/heads/a\x7f", "refs/heads/a\tb",
	}
	for _, name := range valid {
		if !validRef(name) {
			t.Errorf("validRef(%q) = false, want true", name)
		}
	}
	for _, name := range invalid {
		if validRef(name) {
			t.Errorf("validRef(%q) = true, want false", name)
		}
	}
}

// TestParseReceivePackPrefixes cuts every valid body at every byte: a
// prefix never fails, and it reports a prefix of the updates.
func TestParseReceivePackPrefixes(t *testing.T) {
	bodies := map[string]string{
		"create":       cmd(zero1, one1, "refs/heads/main", caps1) + cmd(zero1, two1, "refs/tags/v1", "") + "0000" + pack,
		"options":      cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + pkt("ci.skip") + "0000" + pack,
		"signed":       signedPush(pktLines(pgpSignature)),
		"shallow":      pkt("shallow "+one1) + cmd(one1, two1, "refs/heads/main", caps1) + "0000",
		"sha256":       cmd(zero2, one2, "refs/heads/main", caps2) + "0000" + pack,
		"delete only":  cmd(two1, zero1, "refs/heads/main", caps1) + "0000",
		"push options": cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + pkt("a") + pkt("b") + "0000",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "receive-pack", "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies[f] = string(b)
	}
	for name, body := range bodies {
		full, err := ParseReceivePack([]byte(body))
		if err != nil || full.Truncated {
			t.Fatalf("%s: ParseReceivePack(full body) = %+v, %v", name, full, err)
		}
		// Stop at the packfile: a cut inside it is not visible.
		end := len(body)
		if i := strings.Index(body, "PACK"); i >= 0 && full.Packfile {
			end = i + 4
		}
		for n := range end {
			got, err := ParseReceivePack([]byte(body[:n]))
			if err != nil {
				t.Fatalf("%s: cut at %d: %v", name, n, err)
			}
			if len(got.Updates) > len(full.Updates) || !slices.Equal(got.Updates, full.Updates[:len(got.Updates)]) {
				t.Fatalf("%s: cut at %d: updates %+v, not a prefix of %+v", name, n, got.Updates, full.Updates)
			}
			// Only a cut just after a flush-pkt looks like a whole body.
			if !got.Truncated && !strings.HasSuffix(body[:n], "0000") {
				t.Fatalf("%s: cut at %d: not truncated", name, n)
			}
		}
	}
}

// FuzzParseReceivePack checks that ParseReceivePack never panics, returns
// nothing with an error, reports only well-formed updates, and reads a
// prefix of a valid body as a prefix of its updates. The corpus in
// testdata/fuzz/FuzzParseReceivePack holds bodies captured from real git.
func FuzzParseReceivePack(f *testing.F) {
	for _, seed := range []string{
		"",
		"0000",
		"0000" + pack,
		cmd(zero1, one1, "refs/heads/main", caps1) + cmd(zero1, two1, "refs/tags/v1", "") + "0000" + pack,
		cmd(zero2, one2, "refs/heads/main", caps2) + "0000" + pack,
		cmd(two1, zero1, "refs/heads/main", caps1) + "0000",
		pkt("shallow "+one1) + cmd(one1, two1, "refs/heads/main", caps1) + "0000",
		cmd(zero1, one1, "refs/heads/main", " push-options") + "0000" + pkt("ci.skip") + "0000" + pack,
		signedPush(pktLines(pgpSignature)),
		pkt("push-cert\x00"+caps1) + pktLines("certificate version 0.1\n\n"+one1+" "+two1+" refs/heads/main\n") + "0000",
		"00010002fff1",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseReceivePack(body)
		if err != nil {
			if !reflect.DeepEqual(p, Push{}) {
				t.Fatalf("returned %+v with error %v", p, err)
			}
			return
		}
		for _, u := range p.Updates {
			checkUpdate(t, u)
		}
		if p.Packfile && p.Truncated {
			t.Fatalf("both Packfile and Truncated: %+v", p)
		}

		// Certificates are excluded: which lines are commands depends on
		// where the signature ends up.
		if p.Truncated || bytes.Contains(body, []byte("push-cert")) {
			return
		}
		cut := len(body) / 2
		q, err := ParseReceivePack(body[:cut])
		if err != nil {
			t.Fatalf("whole body parses, its first %d bytes fail: %v", cut, err)
		}
		if len(q.Updates) > len(p.Updates) || !slices.Equal(q.Updates, p.Updates[:len(q.Updates)]) {
			t.Fatalf("prefix updates %+v, not a prefix of %+v", q.Updates, p.Updates)
		}
	})
}

func checkUpdate(t *testing.T, u RefUpdate) {
	t.Helper()
	if !validRef(u.Ref) {
		t.Fatalf("invalid ref %q", u.Ref)
	}
	if len(u.Old) != len(u.New) || len(u.Old) != 40 && len(u.Old) != 64 {
		t.Fatalf("bad id lengths %d, %d", len(u.Old), len(u.New))
	}
	want := KindUpdate
	switch {
	case isZero(u.New):
		want = KindDelete
	case isZero(u.Old):
		want = KindCreate
	}
	if u.Kind != want {
		t.Fatalf("kind %q, want %q", u.Kind, want)
	}
	if u.Branch != "" && u.Ref != "refs/heads/"+u.Branch || u.Tag != "" && u.Ref != "refs/tags/"+u.Tag || u.Branch != "" && u.Tag != "" {
		t.Fatalf("branch %q and tag %q do not match ref %q", u.Branch, u.Tag, u.Ref)
	}
}
