package pack

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// treeEntry encodes a tree entry.
func treeEntry(mode, name string, h plumbing.Hash) []byte {
	return append([]byte(mode+" "+name+"\x00"), h[:]...)
}

// TestScanHandBuilt reads packs built by hand, for the cases real git
// does not produce on demand: bases after their deltas, chains on a thin
// delta, a thin tree whose names come only from its inserts.
func TestScanHandBuilt(t *testing.T) {
	t.Parallel()
	blob := []byte("first version of the file\n")
	blobID := plumbing.ComputeHash(plumbing.BlobObject, blob)
	absent := plumbing.NewHash("1111111111111111111111111111111111111111")

	key := []byte("-----BEGIN RSA PRIVATE KEY-----\n")
	keyID := plumbing.ComputeHash(plumbing.BlobObject, key)
	env := []byte("TOKEN=x\n")
	envID := plumbing.ComputeHash(plumbing.BlobObject, env)
	sub := treeEntry("100644", "key.pem", keyID)
	subID := plumbing.ComputeHash(plumbing.TreeObject, sub)
	// The new root tree, as a thin delta on the server's: it copies an
	// entry, inserts a new file whole, copies the name "sub" and inserts
	// only its new id.
	newEntry := treeEntry("100644", "new.env", envID)
	rootDelta := deltaOf(200, uint64(30+len(newEntry)+10+len(subID)),
		copyOp(0, 30),
		insertOp(string(newEntry)),
		copyOp(50, 10),
		insertOp(string(subID[:])))
	commit := []byte("tree " + strings.Repeat("2", 40) + "\nauthor a <a> 0 +0000\ncommitter a <a> 0 +0000\n\nmsg\n")

	cases := []struct {
		name    string
		objects []rawObject
		want    []Blob
	}{
		{"ref-delta before its base", []rawObject{
			{typ: plumbing.REFDeltaObject, data: deltaOf(uint64(len(blob)), uint64(len(blob))+4, copyOp(0, len(blob)), insertOp("more")), size: -1, ref: blobID},
			{typ: plumbing.BlobObject, data: blob, size: -1},
		}, []Blob{
			{Hash: plumbing.ComputeHash(plumbing.BlobObject, append(bytes.Clone(blob), "more"...)).String(), Data: append(bytes.Clone(blob), "more"...)},
			{Hash: blobID.String(), Data: blob},
		}},
		{"ofs chain", []rawObject{
			{typ: plumbing.BlobObject, data: blob, size: -1},
			{typ: plumbing.OFSDeltaObject, data: deltaOf(uint64(len(blob)), 5, copyOp(0, 5)), size: -1, base: 0},
			{typ: plumbing.OFSDeltaObject, data: deltaOf(5, 8, copyOp(0, 5), insertOp("!!!")), size: -1, base: 1},
		}, []Blob{
			{Hash: blobID.String(), Data: blob},
			{Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte("first")).String(), Data: []byte("first")},
			{Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte("first!!!")).String(), Data: []byte("first!!!")},
		}},
		// Adjacent inserts are one run (git splits inserts at 127
		// bytes); a copy between runs becomes a newline.
		{"thin delta", []rawObject{
			{typ: plumbing.REFDeltaObject, data: deltaOf(100, 10+4+4+5+4, copyOp(0, 10), insertOp("AKIA"), insertOp("ZZZZ"), copyOp(10, 5), insertOp("tail")), size: -1, ref: absent},
		}, []Blob{
			{Partial: true, Base: absent.String(), Data: []byte("AKIAZZZZ\ntail")},
		}},
		{"delta on a thin delta", []rawObject{
			{typ: plumbing.REFDeltaObject, data: deltaOf(100, 4, insertOp("abcd")), size: -1, ref: absent},
			{typ: plumbing.OFSDeltaObject, data: deltaOf(4, 6, copyOp(0, 4), insertOp("ef")), size: -1, base: 0},
		}, []Blob{
			{Partial: true, Base: absent.String(), Data: []byte("abcd")},
			{Partial: true, Data: []byte("ef")},
		}},
		{"thin root tree", []rawObject{
			{typ: plumbing.CommitObject, data: commit, size: -1},
			{typ: plumbing.REFDeltaObject, data: rootDelta, size: -1, ref: absent},
			{typ: plumbing.TreeObject, data: sub, size: -1},
			{typ: plumbing.BlobObject, data: key, size: -1},
			{typ: plumbing.BlobObject, data: env, size: -1},
		}, []Blob{
			{Partial: true, Base: absent.String(), Data: append(append(bytes.Clone(newEntry), '\n'), subID[:]...)},
			{Path: ".../key.pem", Hash: keyID.String(), Data: key},
			{Path: ".../new.env", Hash: envID.String(), Data: env},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scanAll(t, request(buildPack(c.objects)), Limits{})
			if len(got) != len(c.want) {
				t.Fatalf("got %d blobs %+v, want %d", len(got), got, len(c.want))
			}
			for i, w := range c.want {
				g := got[i]
				if g.Path != w.Path || g.Hash != w.Hash || g.Partial != w.Partial || g.Base != w.Base || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("blob %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

// TestDeltaInvalid checks that delta instructions are held to git's rules.
func TestDeltaInvalid(t *testing.T) {
	t.Parallel()
	base := []byte("0123456789")
	cases := map[string][]byte{
		"no header":          {},
		"truncated size":     {0x80},
		"size over 64 bits":  bytes.Repeat([]byte{0xff}, 11),
		"base size mismatch": deltaOf(11, 1, insertOp("a")),
		"copy past the base": deltaOf(10, 5, copyOp(8, 5)),
		"copy of 0x10000":    deltaOf(10, 0x10000, []byte{0x80}),
		"output short":       deltaOf(10, 5, insertOp("abc")),
		"output long":        deltaOf(10, 2, insertOp("abc")),
		"reserved 0":         deltaOf(10, 1, []byte{0}, insertOp("a")),
		"truncated insert":   deltaOf(10, 5, []byte{5, 'a'}),
		"truncated copy":     deltaOf(10, 5, []byte{0x91}),
		"after the output":   deltaOf(10, 1, insertOp("a"), insertOp("b")),
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			pd, err := parseDelta(d)
			if err == nil {
				_, err = pd.apply(base)
			}
			if !errors.Is(err, errDelta) {
				t.Errorf("got %v, want errDelta", err)
			}
		})
	}
}
