package pack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Blob is a file's content in a pushed packfile.
type Blob struct {
	// Path is the blob's path in a pushed commit's tree ("dir/file.txt"),
	// any one when several paths lead to it. It starts with ".../" when
	// only the name and the directories below a thin tree are known, and
	// is "" when nothing in the pack names the blob.
	Path string
	// Hash is the object id in hex, "" for a Partial blob: the id is a
	// hash of the whole content, which needs the delta's base.
	Hash string
	// Data is the content. For a delta whose base is not in the pack (a
	// thin pack), it is only the bytes the delta inserts, runs that a copy
	// separates joined by a newline.
	Data []byte
	// Partial reports that Data holds only a delta's inserted bytes.
	Partial bool
	// Base is, for a Partial blob, the id in hex of the object the delta
	// applies to when the pack names it (a ref-delta): the server's
	// version of the file. It is "" otherwise.
	Base string
}

// Limits bound the work and memory of one Scan. A field of zero or less
// takes its default.
type Limits struct {
	// MaxObjects is the most objects a packfile may declare. The default
	// is DefaultMaxObjects.
	MaxObjects int
	// MaxInflated is the most bytes Scan may produce in all: inflated
	// objects and delta instructions, resolved deltas, and the inserted
	// bytes of thin deltas. It bounds Scan's memory beyond the body
	// itself, to a small multiple. The default is DefaultMaxInflated.
	MaxInflated int64
}

const (
	// DefaultMaxObjects is Limits.MaxObjects when not set.
	DefaultMaxObjects = 100_000
	// DefaultMaxInflated is Limits.MaxInflated when not set.
	DefaultMaxInflated = 256 << 20
)

// ErrTooLarge reports a packfile that needs more than Limits allow. The
// caller may tell the agent that the push is too large to check, rather
// than malformed.
var ErrTooLarge = errors.New("packfile exceeds scan limits")

// Scan reads a git-receive-pack request body (decoded, without any
// Content-Encoding) and calls visit for each blob in its packfile, in pack
// order, and for each delta whose base is not in the pack (see the package
// documentation). A body without a packfile yields nothing and no error. A
// malformed body or pack is an error, and the caller should refuse the
// push; Scan checks the whole body before the first call to visit, so an
// error leaves visit uncalled. An error from visit stops the scan and is
// returned unchanged. visit may keep Blob.Data.
func Scan(body []byte, lim Limits, visit func(Blob) error) error {
	if lim.MaxObjects <= 0 {
		lim.MaxObjects = DefaultMaxObjects
	}
	if lim.MaxInflated <= 0 {
		lim.MaxInflated = DefaultMaxInflated
	}
	data, err := packData(body)
	if err != nil {
		return fmt.Errorf("reading receive-pack request: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	blobs, err := readPack(data, lim)
	if err != nil {
		return fmt.Errorf("reading packfile: %w", err)
	}
	for _, b := range blobs {
		if err := visit(b); err != nil {
			return err
		}
	}
	return nil
}

// Start is where the packfile begins in a receive-pack request body: the
// length of the commands and push options before it, read as packData
// reads them. ok is false when the body holds no packfile (a push that
// only deletes refs); err when the commands cannot be read.
func Start(body []byte) (start int, ok bool, err error) {
	data, err := packData(body)
	if err != nil {
		return 0, false, err
	}
	if len(data) == 0 {
		return len(body), false, nil
	}
	return len(body) - len(data), true, nil
}

// maxPktLen is the largest pkt-line git sends or accepts, length included
// (LARGE_PACKET_MAX in git's pkt-line.h).
const maxPktLen = 65520

// packData returns the packfile that follows the commands and push
// options of a receive-pack request (protocol v0/v1, which git uses for
// every push, Documentation/gitprotocol-pack.txt):
//
//	*shallow (command-list | push-cert) [push-options] [packfile]
//
// It reads only as much of the commands as it needs to find the pack: the
// capabilities, for push-options and the object format. Whether the
// commands themselves are well formed is for git and the policy to judge.
func packData(body []byte) ([]byte, error) {
	r := pktReader{buf: body}
	var caps []string
	first := true
	for {
		line, flush, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("command list: %w", err)
		}
		if flush {
			break
		}
		// Capabilities follow a NUL on the first command (or push-cert
		// line); shallow lines may come before it.
		if _, list, ok := bytes.Cut(line, []byte{0}); ok && first {
			caps = strings.Fields(string(list))
			first = false
		} else if !bytes.HasPrefix(line, []byte("shallow ")) {
			first = false
		}
	}
	for _, c := range caps {
		if format, ok := strings.CutPrefix(c, "object-format="); ok && format != "sha1" {
			// The packfile reader knows only 20-byte object ids; a
			// SHA-256 pack would be read wrong, not refused.
			return nil, fmt.Errorf("unsupported object format %q", format)
		}
	}
	// The client sends options only after asking for them in the
	// capabilities (send-pack.c), and receive-pack reads them then.
	if slices.Contains(caps, "push-options") {
		for {
			_, flush, err := r.next()
			if err != nil {
				return nil, fmt.Errorf("push options: %w", err)
			}
			if flush {
				break
			}
		}
	}
	rest := body[r.off:]
	if len(rest) > 0 && !bytes.HasPrefix(rest, []byte("PACK")) {
		return nil, fmt.Errorf("offset %d: data after the commands is not a packfile", r.off)
	}
	return rest, nil
}

// pktReader reads pkt-lines from a byte slice, strictly.
type pktReader struct {
	buf []byte
	off int
}

// next returns the payload of the next pkt-line, or flush for "0000". The
// payload aliases buf. It refuses what git never sends in a push: lengths
// 1 to 3 (delim and response-end, protocol v2 only), and "0004", an empty
// line that git's packet_read_line takes for a flush, so that reading on
// would part ways with git's reading of the body.
func (r *pktReader) next() (payload []byte, flush bool, err error) {
	rest := r.buf[r.off:]
	if len(rest) < 4 {
		return nil, false, fmt.Errorf("offset %d: body ends inside a pkt-line length", r.off)
	}
	var n [2]byte
	if _, err := hex.Decode(n[:], rest[:4]); err != nil {
		return nil, false, fmt.Errorf("offset %d: invalid pkt-line length %q", r.off, rest[:4])
	}
	length := int(n[0])<<8 | int(n[1])
	switch {
	case length == 0:
		r.off += 4
		return nil, true, nil
	case length <= 4:
		return nil, false, fmt.Errorf("offset %d: invalid pkt-line length %q", r.off, rest[:4])
	case length > maxPktLen:
		return nil, false, fmt.Errorf("offset %d: pkt-line length %d over the maximum %d", r.off, length, maxPktLen)
	case length > len(rest):
		return nil, false, fmt.Errorf("offset %d: body ends inside a pkt-line of %d bytes", r.off, length)
	}
	r.off += length
	return rest[4:length], false, nil
}
