package masker

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
)

// The push-protection invariant (docs/security.md, "Outgoing secrets and
// push protection"): a push whose pack was not read whole, because the
// body went past the inspect limit or because the pack cannot be read,
// gets the finding airlock-push-unscanned, which deny-outgoing-secrets
// refuses (services/policy/push_unscanned_test.go). A whole, readable push
// does not.

const receivePackType = "application/x-git-receive-pack-request"

// gitObject is one object of a hand-built packfile.
type gitObject struct {
	typ  byte // 1 commit, 2 tree, 3 blob (gitformat-pack.txt)
	data []byte
}

var gitTypeName = map[byte]string{1: "commit", 2: "tree", 3: "blob"}

// id is the object's id as git computes it: SHA-1 of "<type> <size>\0"
// and the content.
func (o gitObject) id() [20]byte {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", gitTypeName[o.typ], len(o.data))
	h.Write(o.data)
	var id [20]byte
	copy(id[:], h.Sum(nil))
	return id
}

// packOf writes objects as a version 2 packfile, whole objects only, with
// its trailing SHA-1, as git does (Documentation/gitformat-pack.txt).
func packOf(t *testing.T, objects ...gitObject) []byte {
	t.Helper()
	var p bytes.Buffer
	p.WriteString("PACK")
	_ = binary.Write(&p, binary.BigEndian, uint32(2))
	_ = binary.Write(&p, binary.BigEndian, uint32(len(objects)))
	for _, o := range objects {
		size := len(o.data)
		c := o.typ<<4 | byte(size&15)
		for size >>= 4; size > 0; size >>= 7 {
			p.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
		}
		p.WriteByte(c)
		zw := zlib.NewWriter(&p)
		if _, err := zw.Write(o.data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha1.Sum(p.Bytes())
	p.Write(sum[:])
	return p.Bytes()
}

// pushOf is the receive-pack request body git sends for a first push of
// one commit holding files (name → content) to refs/heads/main: the
// command with its capabilities, a flush, and the pack (blobs, tree,
// commit). It returns the body and where the pack starts in it.
func pushOf(t *testing.T, files map[string]string, names ...string) (body []byte, packAt int) {
	t.Helper()
	var objects []gitObject
	var tree []byte
	for _, name := range names { // names sorted, as a tree's entries are
		blob := gitObject{typ: 3, data: []byte(files[name])}
		objects = append(objects, blob)
		id := blob.id()
		tree = fmt.Appendf(tree, "100644 %s\x00", name)
		tree = append(tree, id[:]...)
	}
	treeObj := gitObject{typ: 2, data: tree}
	treeID := treeObj.id()
	commit := gitObject{typ: 1, data: fmt.Appendf(nil,
		"tree %x\nauthor Agent <agent@example.com> 1700000000 +0000\ncommitter Agent <agent@example.com> 1700000000 +0000\n\nadd files\n", treeID)}
	commitID := commit.id()
	objects = append(objects, treeObj, commit)

	cmd := strings.Repeat("0", 40) + " " + hex.EncodeToString(commitID[:]) +
		" refs/heads/main\x00 report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.43.0\n"
	body = fmt.Appendf(nil, "%04x%s0000", len(cmd)+4, cmd)
	packAt = len(body)
	return append(body, packOf(t, objects...)...), packAt
}

// cleanPush is a whole, readable push whose files hold no secret.
func cleanPush(t *testing.T) (body []byte, packAt int) {
	t.Helper()
	return pushOf(t, map[string]string{
		"README.md": "# demo\n\nNothing to see here.\n",
		"main.go":   "package main\n\nfunc main() { println(\"hello\") }\n",
	}, "README.md", "main.go")
}

// pushPiece is the piece the ingress sends for a push body it inspected
// whole (Client.Whole): Final, at offset 0.
func pushPiece(data []byte, truncated bool) maskstream.Piece {
	return maskstream.Piece{RequestID: "01JCZ7Z0K8Q0A4M6W2B8C9D0EF", Direction: maskstream.Request,
		ContentType: receivePackType, Final: true, Truncated: truncated, Data: data}
}

// unscanned returns the findings with rule airlock-push-unscanned.
func unscanned(found []event.Finding) []event.Finding {
	var out []event.Finding
	for _, f := range found {
		if f.Rule == "airlock-push-unscanned" {
			out = append(out, f)
		}
	}
	return out
}

func flipByte(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

// TestPushPastTheInspectLimitIsUnscanned: a push body that went on past
// what the ingress inspected (the piece is Truncated) gets the finding
// airlock-push-unscanned, wherever the cut falls: inside the pack, inside
// the commands, and just after a pack that reads whole (only the flag can
// tell that more followed). The same holds over the bus, as the ingress
// asks, whole or a piece at a time.
func TestPushPastTheInspectLimitIsUnscanned(t *testing.T) {
	m := newMasker(t, config.Masking{})
	body, packAt := cleanPush(t)
	cases := map[string][]byte{
		"cut inside the pack":            body[:packAt+(len(body)-packAt)/2],
		"cut inside the pack header":     body[:packAt+6],
		"cut after the commands":         body[:packAt],
		"cut inside the commands":        body[:packAt/2],
		"cut just after a readable pack": body,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			ans, err := m.Handle(pushPiece(data, true))
			if err != nil {
				t.Fatal(err)
			}
			got := unscanned(ans.Findings)
			if len(got) != 1 {
				t.Fatalf("findings %+v, want one airlock-push-unscanned", ans.Findings)
			}
			if want := fmt.Sprintf("push: the pack is larger than the %d bytes inspected", len(data)); got[0].Location != want {
				t.Errorf("location %q, want %q", got[0].Location, want)
			}
			if ans.UpTo != len(data) || ans.Next != len(data) {
				t.Errorf("answer covers %d/%d of %d bytes", ans.UpTo, ans.Next, len(data))
			}
		})
	}

	t.Run("over the bus", func(t *testing.T) {
		c := overTheBus(t, m)
		ctx := context.Background()

		// Inspected up to the limit, the rest unseen: Client.Whole with
		// Truncated, as the ingress's scanRequest asks.
		ans, err := c.Whole(ctx, "git", maskstream.Piece{RequestID: "01JCZ7Z0K8Q0A4M6W2B8C9D0EF",
			Direction: maskstream.Request, ContentType: receivePackType, Truncated: true, Data: body})
		if err != nil {
			t.Fatal(err)
		}
		if len(unscanned(ans.Findings)) != 1 {
			t.Errorf("whole, truncated: findings %+v, want one airlock-push-unscanned", ans.Findings)
		}

		// An inspected body larger than the whole-body limit goes a piece
		// at a time: no piece is the pack whole.
		c.Chunk, c.WholeLimit = 64, 64
		r := c.NewRequestReader(ctx, "git", "01JCZ7Z0K8Q0A4M6W2B8C9D0EF", receivePackType, false, io.NopCloser(bytes.NewReader(body)))
		if _, err := io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		if len(unscanned(r.Findings())) == 0 {
			t.Errorf("in pieces: findings %+v, want airlock-push-unscanned", r.Findings())
		}
	})
}

// TestUnreadablePushIsUnscanned: a push inspected whole whose pack cannot
// be read (corrupt, cut with nothing saying so, not a pack, in a format
// the reader does not know) gets the finding airlock-push-unscanned, not a
// silent pass with no findings. A corrupt pack whose file holds a secret
// is refused the same way: nothing in it was read.
func TestUnreadablePushIsUnscanned(t *testing.T) {
	m := newMasker(t, config.Masking{})
	body, packAt := cleanPush(t)
	commands, pack := body[:packAt], body[packAt:]
	secretBody, secretAt := pushOf(t, map[string]string{"token.env": "GITHUB_TOKEN=" + pat(11) + "\n"}, "token.env")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// A pack that declares one object more than it holds, its checksum
	// right for what it holds.
	short := bytes.Clone(pack[:len(pack)-20])
	binary.BigEndian.PutUint32(short[8:], binary.BigEndian.Uint32(short[8:])+1)
	sum := sha1.Sum(short)
	short = append(short, sum[:]...)

	// The same command, in a SHA-256 repository: a format the pack
	// reader does not know.
	cmd := strings.Replace(string(commands[4:len(commands)-4]), "object-format=sha1", "object-format=sha256", 1)
	sha256Commands := fmt.Appendf(nil, "%04x%s0000", len(cmd)+4, cmd)

	cases := map[string][]byte{
		"corrupt object":             cat(commands, flipByte(pack, 12+(len(pack)-32)/2)),
		"bad checksum":               cat(commands, flipByte(pack, len(pack)-1)),
		"bad version":                cat(commands, flipByte(pack, 7)),
		"more objects than it holds": cat(commands, short),
		"cut in an object":           cat(commands, pack[:len(pack)/2]),
		"cut in the header":          cat(commands, pack[:8]),
		"without checksum":           cat(commands, pack[:len(pack)-20]),
		"data after the pack":        cat(commands, pack, []byte("x")),
		"not a pack after commands":  cat(commands, []byte("garbage that is not a packfile")),
		"commands cut":               commands[:len(commands)-4],
		"commands unreadable":        cat([]byte("zzzz"), body[4:]),
		"sha256 object format":       cat(sha256Commands, pack),
		"corrupt pack with a secret": cat(secretBody[:secretAt], flipByte(secretBody[secretAt:], len(secretBody)-secretAt-1)),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			ans, err := m.Handle(pushPiece(data, false))
			if err != nil {
				t.Fatal(err)
			}
			got := unscanned(ans.Findings)
			if len(got) != 1 || len(ans.Findings) != 1 {
				t.Fatalf("findings %+v, want exactly one airlock-push-unscanned", ans.Findings)
			}
			if !strings.HasPrefix(got[0].Location, "push: ") || strings.Contains(got[0].Location, "larger than") {
				t.Errorf("location %q does not give the reading error", got[0].Location)
			}
			t.Log(got[0].Location)
		})
	}
}

// TestWholePushIsScanned is the control: a whole, readable push gets no
// airlock-push-unscanned finding. Without a secret it gets no finding at
// all; with one, the finding names the file; a push that only deletes a
// ref carries no pack and nothing to scan.
func TestWholePushIsScanned(t *testing.T) {
	m := newMasker(t, config.Masking{})
	clean, packAt := cleanPush(t)
	ans, err := m.Handle(pushPiece(clean, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Findings) != 0 {
		t.Errorf("clean push: findings %+v, want none", ans.Findings)
	}
	// The bus gets the commands and the pack's header.
	if want := clean[:packAt+12]; !bytes.Equal(ans.Data, want) {
		t.Errorf("clean push: carried %q, want %q", ans.Data, want)
	}

	secret := pat(12)
	withSecret, _ := pushOf(t, map[string]string{
		"README.md": "# demo\n",
		"token.env": "GITHUB_TOKEN=" + secret + "\n",
	}, "README.md", "token.env")
	ans, err = m.Handle(pushPiece(withSecret, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Findings) != 1 || ans.Findings[0].Rule != "github-pat" || ans.Findings[0].Location != "push:token.env" {
		t.Errorf("push with a token: findings %+v, want github-pat at push:token.env", ans.Findings)
	}

	del := "1111111111111111111111111111111111111111 " + strings.Repeat("0", 40) + " refs/heads/feature\x00 report-status-v2 quiet object-format=sha1\n"
	ans, err = m.Handle(pushPiece(fmt.Appendf(nil, "%04x%s0000", len(del)+4, del), false))
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Findings) != 0 {
		t.Errorf("delete-only push: findings %+v, want none", ans.Findings)
	}
}
