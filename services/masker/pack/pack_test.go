package pack

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/airlockhq/airlock/pkg/gittest"
)

var update = flag.Bool("update", false, "write the push bodies real git sends to testdata/fuzz/FuzzScan")

// secretLine is what the tests add to files: a line a detector would flag.
const secretLine = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"

// gitServer serves one bare repository with git http-backend and keeps
// the body of every receive-pack request.
type gitServer struct {
	URL string

	mu     sync.Mutex
	bodies [][]byte
}

func startServer(t *testing.T, g gittest.Git) *gitServer {
	t.Helper()
	root := t.TempDir()
	g.Run(t, root, "init", "-q", "--bare", "repo.git")
	g.Run(t, root, "-C", "repo.git", "config", "http.receivepack", "true")
	g.Run(t, root, "-C", "repo.git", "config", "receive.advertisePushOptions", "true")
	s := &gitServer{}
	observe := func(r *http.Request, body []byte) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			return
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				t.Errorf("decoding a gzip body: %v", err)
			}
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
	}
	srv := httptest.NewServer(g.Backend(t, root, observe))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/repo.git"
	return s
}

// push runs git push in dir and returns the receive-pack body it sent,
// leaving out the "0000" probe git sends before a large one.
func (s *gitServer) push(t *testing.T, g gittest.Git, dir string, args ...string) []byte {
	t.Helper()
	g.Run(t, dir, append([]string{"push", "-q", s.URL}, args...)...)
	s.mu.Lock()
	defer s.mu.Unlock()
	bodies := slices.DeleteFunc(s.bodies, func(b []byte) bool { return string(b) == "0000" })
	s.bodies = nil
	if len(bodies) != 1 {
		t.Fatalf("git push %s sent %d receive-pack bodies, want 1", strings.Join(args, " "), len(bodies))
	}
	if *update {
		saveSeed(t, bodies[0])
	}
	return bodies[0]
}

// saveSeed writes body to the fuzz corpus, in go test's corpus format.
func saveSeed(t *testing.T, body []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzScan")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Named by content, as go test names the inputs it finds, so that
	// the same push from several tests is kept once.
	name := fmt.Sprintf("push-%x", sha1.Sum(body))[:17]
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", body)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newWork makes an empty work tree on branch main.
func newWork(t *testing.T, g gittest.Git) string {
	t.Helper()
	dir := t.TempDir()
	g.Run(t, dir, "init", "-q", "-b", "main")
	return dir
}

// commit writes files (path → content) into dir and commits everything.
func commit(t *testing.T, g gittest.Git, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.Run(t, dir, "add", "-A")
	g.Run(t, dir, "commit", "-q", "-m", "change")
}

// lsTree maps each blob of rev to its paths.
func lsTree(t *testing.T, g gittest.Git, dir, rev string) map[string][]string {
	t.Helper()
	blobs := make(map[string][]string)
	for line := range strings.SplitSeq(g.Run(t, dir, "ls-tree", "-r", rev), "\n") {
		meta, path, _ := strings.Cut(line, "\t")
		if f := strings.Fields(meta); len(f) == 3 && f[1] == "blob" {
			blobs[f[2]] = append(blobs[f[2]], path)
		}
	}
	return blobs
}

// scanAll returns what Scan yields for body, failing the test on an error.
func scanAll(t *testing.T, body []byte, lim Limits) []Blob {
	t.Helper()
	var blobs []Blob
	if err := Scan(body, lim, func(b Blob) error {
		blobs = append(blobs, b)
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return blobs
}

// deltaKinds counts the pack's deltas: those on a base in the pack, and
// thin ones, so that a test can show it met the case it is about.
func deltaKinds(t *testing.T, body []byte) (inPack, thin int) {
	t.Helper()
	data, err := packData(body)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{budget: DefaultMaxInflated}
	if err := r.scan(data, DefaultMaxObjects); err != nil {
		t.Fatal(err)
	}
	if err := r.resolve(); err != nil {
		t.Fatal(err)
	}
	for _, o := range r.objects {
		switch {
		case !o.resolved:
			thin++
		case o.baseHash != plumbing.ZeroHash || o.baseOffset != 0:
			inPack++
		}
	}
	return inPack, thin
}

// lines returns n distinct lines, so that git finds deltas between files
// that share them.
func lines(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s line %d: some text that makes the file worth a delta\n", prefix, i)
	}
	return b.String()
}

// TestScanFirstPush pushes a new repository and checks that Scan yields
// every blob of the commit, whole, with its content, id and a path git
// gives it, including a blob git sent as a delta on another in the pack.
func TestScanFirstPush(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	big := lines("shared", 200)
	files := map[string]string{
		"README.md":          "# demo\n",
		"dir/a.txt":          "alpha\n",
		"dir/sub/key.pem":    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
		"dir/sub/big1.txt":   big,
		"dir/big2.txt":       big + secretLine,
		"dup.txt":            "same\n",
		"dir/sub/deep/dup":   "same\n",
		"dir/sub/deep/empty": "",
	}
	if err := os.Symlink("dir/a.txt", filepath.Join(work, "link")); err != nil {
		t.Fatal(err)
	}
	commit(t, g, work, files)
	files["link"] = "dir/a.txt"

	body := srv.push(t, g, work, "main")
	if inPack, _ := deltaKinds(t, body); inPack == 0 {
		t.Fatal("the pack has no delta: the test no longer covers delta resolution")
	}
	want := lsTree(t, g, work, "HEAD")
	got := make(map[string]bool)
	for _, b := range scanAll(t, body, Limits{}) {
		paths, ok := want[b.Hash]
		switch {
		case b.Partial:
			t.Errorf("blob %s is partial in a pack with every base", b.Hash)
		case !ok:
			t.Errorf("blob %s (path %q) is not in the commit", b.Hash, b.Path)
		case !slices.Contains(paths, b.Path):
			t.Errorf("blob %s has path %q, want one of %q", b.Hash, b.Path, paths)
		case string(b.Data) != files[b.Path]:
			t.Errorf("%s: data %q, want %q", b.Path, b.Data, files[b.Path])
		}
		got[b.Hash] = true
	}
	for h, paths := range want {
		if !got[h] {
			t.Errorf("blob %s (%q) not yielded", h, paths)
		}
	}
}

// TestScanThinPush changes a file the server has: git sends the new
// version as a delta on the old one, which the pack does not carry, and
// the added line must still reach the detector.
func TestScanThinPush(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	old := lines("config", 100)
	commit(t, g, work, map[string]string{"dir/sub/settings.txt": old, "other.txt": "x\n"})
	srv.push(t, g, work, "main")
	oldHash := g.Run(t, work, "rev-parse", "HEAD:dir/sub/settings.txt")

	commit(t, g, work, map[string]string{"dir/sub/settings.txt": old[:len(old)/2] + secretLine + old[len(old)/2:]})
	body := srv.push(t, g, work, "main")
	if _, thin := deltaKinds(t, body); thin == 0 {
		t.Fatal("git sent no thin delta: the test no longer covers thin packs")
	}
	var found bool
	for _, b := range scanAll(t, body, Limits{}) {
		if !bytes.Contains(b.Data, []byte(secretLine)) {
			continue
		}
		found = true
		if !b.Partial || b.Base != oldHash || b.Hash != "" || b.Path != "" {
			t.Errorf("got Partial %v, Base %q, Hash %q, Path %q; want a partial blob on %s", b.Partial, b.Base, b.Hash, b.Path, oldHash)
		}
		if len(b.Data) > len(secretLine)+64 {
			t.Errorf("partial data is %d bytes, want about the inserted line: %q", len(b.Data), b.Data)
		}
	}
	if !found {
		t.Error("no blob holds the added line")
	}
}

// TestScanThinTreePaths pushes to a repository whose root directory is
// large, so that git sends the new root tree as a thin delta: the names of
// added files still come through, under ".../".
func TestScanThinTreePaths(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	files := map[string]string{"dir/sub/x.txt": "x\n", "zdir/sub/y.txt": "y\n"}
	for i := range 150 {
		files[fmt.Sprintf("file%03d.txt", i)] = fmt.Sprintf("content %d\n", i)
	}
	commit(t, g, work, files)
	srv.push(t, g, work, "main")

	commit(t, g, work, map[string]string{
		"added.env":        "ADDED=" + secretLine,
		"dir/sub/deep.env": "DEEP=" + secretLine,
		"newdir/new.env":   "NEW=" + secretLine,
		"zdir/sub/z.env":   "Z=" + secretLine,
	})
	body := srv.push(t, g, work, "main")
	if _, thin := deltaKinds(t, body); thin == 0 {
		t.Fatal("git sent no thin delta: the test no longer covers thin trees")
	}
	want := map[string]string{
		"ADDED=" + secretLine: "added.env",
		"DEEP=" + secretLine:  "dir/sub/deep.env",
		"NEW=" + secretLine:   "newdir/new.env",
		"Z=" + secretLine:     "zdir/sub/z.env",
	}
	for _, b := range scanAll(t, body, Limits{}) {
		if p, ok := want[string(b.Data)]; ok {
			t.Logf("%s: %q", p, b.Path)
			if !fits(b.Path, p) {
				t.Errorf("blob %q: path %q, want %q or its end under .../", b.Data, b.Path, p)
			}
			delete(want, string(b.Data))
		}
	}
	for data := range want {
		t.Errorf("blob %q not yielded", data)
	}
}

// fits reports whether got is path, or ".../" and the end of path from a
// slash on: how much of it git's deltas let Scan see.
func fits(got, path string) bool {
	end, ok := strings.CutPrefix(got, unknownDir+"/")
	return got == path || ok && strings.HasSuffix("/"+path, "/"+end)
}

// TestScanDeletePush deletes a branch: the body has commands only.
func TestScanDeletePush(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	commit(t, g, work, map[string]string{"a.txt": "a\n"})
	srv.push(t, g, work, "main", "main:feature")

	body := srv.push(t, g, work, "--delete", "feature")
	if bytes.Contains(body, []byte("PACK")) {
		t.Fatalf("a delete sent a pack: %q", body)
	}
	if blobs := scanAll(t, body, Limits{}); len(blobs) != 0 {
		t.Errorf("got %d blobs, want none", len(blobs))
	}
}

// TestScanPushOptions pushes with -o: the options sit between the
// commands and the pack, and must not be taken for either.
func TestScanPushOptions(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	commit(t, g, work, map[string]string{"a.txt": "a\n"})
	body := srv.push(t, g, work, "-o", "foo=bar", "-o", "ci.skip", "main")
	if !bytes.Contains(body, []byte("push-options")) || !bytes.Contains(body, []byte("foo=bar")) {
		t.Fatalf("git sent no push options: %q", body)
	}
	blobs := scanAll(t, body, Limits{})
	if len(blobs) != 1 || string(blobs[0].Data) != "a\n" || blobs[0].Path != "a.txt" {
		t.Errorf("got %+v, want a.txt", blobs)
	}
}

// firstPush returns the body of a real first push of one small commit.
func firstPush(t *testing.T) []byte {
	t.Helper()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	commit(t, g, work, map[string]string{"a.txt": "a\n", "dir/b.txt": lines("b", 20)})
	return srv.push(t, g, work, "main")
}

// TestScanMalformed cuts and corrupts a real push body: every variant is
// an error, and visit is not called.
func TestScanMalformed(t *testing.T) {
	t.Parallel()
	body := firstPush(t)
	packAt := bytes.Index(body, []byte("PACK"))
	commands := body[:packAt]
	pack := body[packAt:]
	flipped := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0xff
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	one := func(s string) []byte { return pktLine(zeroID + " " + zeroID + " refs/heads/main\x00" + s) }

	cases := map[string][]byte{
		"empty body":                {},
		"cut in a length":           body[:2],
		"cut in a command":          body[:40],
		"cut before the flush":      commands[:len(commands)-4],
		"bad length hex":            cat([]byte("00zz"), body[4:]),
		"length under 4":            cat([]byte("0003"), body[4:]),
		"empty pkt-line":            cat([]byte("0004"), body),
		"length over the maximum":   cat([]byte("fff1"), body[4:]),
		"garbage after the flush":   cat(commands, []byte("garbage")),
		"short garbage after flush": cat(commands, []byte("PA")),
		"pack cut in the header":    cat(commands, pack[:10]),
		"pack cut in an object":     cat(commands, pack[:len(pack)/2]),
		"pack without checksum":     cat(commands, pack[:len(pack)-20]),
		"bad checksum":              cat(commands, flipped(pack, len(pack)-1)),
		"corrupt object":            cat(commands, flipped(pack, len(pack)/2)),
		"bad version":               cat(commands, flipped(pack, 7)),
		"data after the pack":       cat(commands, pack, []byte("x")),
		"sha256 object format":      cat(one("report-status object-format=sha256"), []byte("0000")),
		"push options unended":      cat(one("report-status push-options"), []byte("0000"), pktLine("foo")),
		"push options cut":          cat(one("report-status push-options"), []byte("0000"), []byte("00")),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			called := false
			err := Scan(body, Limits{}, func(Blob) error { called = true; return nil })
			if err == nil {
				t.Fatal("no error")
			}
			if called {
				t.Error("visit called for a malformed body")
			}
			t.Log(err)
		})
	}
}

// TestScanNoPack reads bodies that carry no pack.
func TestScanNoPack(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		// git sends a flush alone before a large push, to check that
		// the server takes it.
		"probe":                []byte("0000"),
		"push options":         bytes.Join([][]byte{pktLine(zeroID + " " + zeroID + " refs/heads/x\x00push-options"), []byte("0000"), pktLine("a=b"), []byte("0000")}, nil),
		"shallow then command": bytes.Join([][]byte{pktLine("shallow " + zeroID), pktLine(zeroID + " " + zeroID + " refs/heads/x\x00report-status"), []byte("0000")}, nil),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if blobs := scanAll(t, body, Limits{}); len(blobs) != 0 {
				t.Errorf("got %d blobs", len(blobs))
			}
		})
	}
}

// TestScanLimits checks that a pack asking for more than Limits fails
// with ErrTooLarge, and does so before it inflates or builds what it
// asks for. It does not run in parallel, so that it can count the bytes
// Scan allocates.
func TestScanLimits(t *testing.T) {
	g := gittest.New(t, t.TempDir())

	// A blob of 64 MiB of zeros, as git packs it: about 64 KiB of zlib.
	dir := t.TempDir()
	g.Run(t, dir, "init", "-q", "--bare", ".")
	zeros := filepath.Join(dir, "zeros")
	if err := os.WriteFile(zeros, make([]byte, 64<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Run(t, dir, "tag", "zeros", g.Run(t, dir, "hash-object", "-w", zeros))
	g.Run(t, dir, "repack", "-a", "-d", "-q")
	packs, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if err != nil || len(packs) != 1 {
		t.Fatalf("finding the pack: %v %q", err, packs)
	}
	bomb, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(bomb) > 1<<20 {
		t.Fatalf("git packed 64 MiB of zeros into %d bytes", len(bomb))
	}

	push := firstPush(t)
	base := make([]byte, 0x10000)
	cases := []struct {
		name string
		body []byte
		lim  Limits
		// want is ErrTooLarge, or nil for any error.
		want error
	}{
		{"too many objects", push, Limits{MaxObjects: 2}, ErrTooLarge},
		{"too many bytes", push, Limits{MaxInflated: 100}, ErrTooLarge},
		{"zlib bomb from git", request(bomb), Limits{MaxInflated: 16 << 20}, ErrTooLarge},
		{"declared size over the default", request(buildPack([]rawObject{
			{typ: plumbing.BlobObject, data: []byte("x"), size: 1 << 40},
		})), Limits{}, ErrTooLarge},
		// The header says 10 bytes and the zlib stream holds a MiB: the
		// scanner stops at the declared size.
		{"object longer than declared", request(buildPack([]rawObject{
			{typ: plumbing.BlobObject, data: make([]byte, 1<<20), size: 10},
		})), Limits{}, nil},
		// 16 Ki one-byte instructions, each copying the whole 64 KiB
		// base: a delta of 16 KiB that builds a GiB.
		{"delta bomb", request(buildPack([]rawObject{
			{typ: plumbing.BlobObject, data: base, size: -1},
			{typ: plumbing.OFSDeltaObject, data: deltaOf(0x10000, 1<<30, bytes.Repeat([]byte{0x80}, 1<<14)), size: -1, base: 0},
		})), Limits{}, ErrTooLarge},
		// A thin delta's declared result is never built; its own bytes
		// count.
		{"thin delta over the limit", request(buildPack([]rawObject{
			{typ: plumbing.REFDeltaObject, data: deltaOf(0x10000, 1<<30, bytes.Repeat([]byte{0x80}, 1<<14)), size: -1, ref: plumbing.NewHash("1234567890123456789012345678901234567890")},
		})), Limits{MaxInflated: 1 << 10}, ErrTooLarge},
		{"count over the objects in the pack", request(fixChecksum(setCount(buildPack([]rawObject{
			{typ: plumbing.BlobObject, data: []byte("x"), size: -1},
		}), 1<<31))), Limits{}, ErrTooLarge},
	}
	for _, c := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := Scan(c.body, c.lim, func(Blob) error { return nil })
		runtime.ReadMemStats(&after)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("%s: Scan allocated %d MiB", c.name, n>>20)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// setCount rewrites the object count of a pack's header.
func setCount(pack []byte, n uint32) []byte {
	binary.BigEndian.PutUint32(pack[8:], n)
	return pack
}

// fixChecksum rewrites a pack's trailing checksum after a change.
func fixChecksum(pack []byte) []byte {
	sum := sha1.Sum(pack[:len(pack)-20])
	copy(pack[len(pack)-20:], sum[:])
	return pack
}

// pktLine frames s as a pkt-line.
func pktLine(s string) []byte { return fmt.Appendf(nil, "%04x%s", len(s)+4, s) }

const zeroID = "0000000000000000000000000000000000000000"

// rawObject is an entry of a pack built by hand.
type rawObject struct {
	typ  plumbing.ObjectType
	data []byte
	// size is the size the header declares; -1 for len(data).
	size int64
	// base is, for an ofs-delta, the index of its base in the pack.
	base int
	// ref is a ref-delta's base.
	ref plumbing.Hash
}

// buildPack writes a packfile as git does (gitformat-pack.txt).
func buildPack(objects []rawObject) []byte {
	var p bytes.Buffer
	p.WriteString("PACK")
	binary.Write(&p, binary.BigEndian, uint32(2))
	binary.Write(&p, binary.BigEndian, uint32(len(objects)))
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = p.Len()
		size := o.size
		if size < 0 {
			size = int64(len(o.data))
		}
		c := byte(o.typ)<<4 | byte(size&15)
		size >>= 4
		for size > 0 {
			p.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
			size >>= 7
		}
		p.WriteByte(c)
		switch o.typ {
		case plumbing.OFSDeltaObject:
			n := offsets[i] - offsets[o.base]
			enc := []byte{byte(n & 0x7f)}
			for n >>= 7; n > 0; n >>= 7 {
				n--
				enc = append([]byte{byte(0x80 | n&0x7f)}, enc...)
			}
			p.Write(enc)
		case plumbing.REFDeltaObject:
			p.Write(o.ref[:])
		}
		zw := zlib.NewWriter(&p)
		zw.Write(o.data)
		zw.Close()
	}
	sum := sha1.Sum(p.Bytes())
	p.Write(sum[:])
	return p.Bytes()
}

// request wraps a pack in the commands of a push.
func request(pack []byte) []byte {
	return bytes.Join([][]byte{pktLine(zeroID + " " + strings.Repeat("1", 40) + " refs/heads/main\x00report-status"), []byte("0000"), pack}, nil)
}

// deltaOf builds a delta's header; the instructions follow.
func deltaOf(baseSize, resultSize uint64, ops ...[]byte) []byte {
	d := binary.AppendUvarint(nil, baseSize)
	d = binary.AppendUvarint(d, resultSize)
	return append(d, bytes.Join(ops, nil)...)
}

func insertOp(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// copyOp copies n (1 to 0xffff) bytes at off (under 256) of the base.
func copyOp(off, n int) []byte {
	return []byte{0x80 | 0x01 | 0x10 | 0x20, byte(off), byte(n), byte(n >> 8)}
}

// TestScanVisitError stops at visit's first error and returns it as is.
func TestScanVisitError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	calls := 0
	err := Scan(firstPush(t), Limits{}, func(Blob) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("got %v after %d calls, want stop after 1", err, calls)
	}
}

// FuzzScan feeds Scan arbitrary bodies, seeded with what real git sends
// (testdata/fuzz/FuzzScan, rewritten by go test -update) and hand-built
// packs. Scan must not panic, must call visit only for a body it accepts,
// and must stay within its limits.
func FuzzScan(f *testing.F) {
	blob := []byte("package main\n")
	f.Add([]byte("0000"))
	f.Add(request(buildPack([]rawObject{{typ: plumbing.BlobObject, data: blob, size: -1}})))
	f.Add(request(buildPack([]rawObject{
		{typ: plumbing.BlobObject, data: blob, size: -1},
		{typ: plumbing.OFSDeltaObject, data: deltaOf(uint64(len(blob)), uint64(len(blob))+3, copyOp(0, len(blob)), insertOp("abc")), size: -1, base: 0},
		{typ: plumbing.REFDeltaObject, data: deltaOf(100, 7, copyOp(5, 3), insertOp("abcd")), size: -1, ref: plumbing.ComputeHash(plumbing.BlobObject, []byte("x"))},
	})))
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := Limits{MaxObjects: 64, MaxInflated: 1 << 20}
		var blobs int
		var bytes int64
		err := Scan(body, lim, func(b Blob) error {
			blobs++
			bytes += int64(len(b.Data))
			return nil
		})
		if err != nil && blobs > 0 {
			t.Fatalf("visit called %d times before the error %v", blobs, err)
		}
		if blobs > lim.MaxObjects || bytes > lim.MaxInflated {
			t.Fatalf("%d blobs of %d bytes, over %+v", blobs, bytes, lim)
		}
	})
}

// TestStart finds where the pack begins in a real push body: after the
// commands, at the "PACK" signature; a body that only deletes has none;
// broken commands are an error.
func TestStart(t *testing.T) {
	t.Parallel()
	g := gittest.New(t, t.TempDir())
	srv := startServer(t, g)
	work := newWork(t, g)
	commit(t, g, work, map[string]string{"a.txt": "alpha\n"})
	body := srv.push(t, g, work, "main")
	start, ok, err := Start(body)
	if err != nil || !ok || !bytes.HasPrefix(body[start:], []byte("PACK")) || !bytes.Contains(body[:start], []byte("refs/heads/main")) {
		t.Fatalf("Start = %d, %v, %v; body[start:] starts %q", start, ok, err, body[min(start, len(body)):min(start+4, len(body))])
	}
	commands := body[:start]
	if start, ok, err := Start(commands); err != nil || ok || start != len(commands) {
		t.Errorf("commands only: Start = %d, %v, %v; want %d, no pack", start, ok, err, len(commands))
	}
	if _, _, err := Start([]byte("00zzgarbage")); err == nil {
		t.Error("Start accepted a body whose commands cannot be read")
	}
}
