package pack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// object is one entry of the pack.
type object struct {
	offset int64
	// typ is the entry's type; a delta takes its base's type once
	// resolved.
	typ plumbing.ObjectType
	// data is the content, or the delta while unresolved.
	data []byte
	// hash is the object id, known for whole objects and resolved deltas.
	hash plumbing.Hash
	// baseOffset or baseHash name a delta's base (ofs-delta, ref-delta).
	baseOffset int64
	baseHash   plumbing.Hash
	resolved   bool
	// inserted and runs are a thin delta's inserted bytes (see
	// delta.inserts).
	inserted []byte
	runs     [][]byte
}

// reader holds a pack being read and what is left of the byte budget.
type reader struct {
	objects []*object
	budget  int64
}

// spend takes n bytes from the budget, or fails with ErrTooLarge.
func (r *reader) spend(n int64, what string) error {
	if n > r.budget {
		return fmt.Errorf("%w: %s needs %d bytes, %d left of MaxInflated", ErrTooLarge, what, n, r.budget)
	}
	r.budget -= n
	return nil
}

// readPack reads and checks a whole packfile and returns the blobs Scan
// yields.
func readPack(data []byte, lim Limits) ([]Blob, error) {
	r := &reader{budget: lim.MaxInflated}
	if err := r.scan(data, lim.MaxObjects); err != nil {
		return nil, err
	}
	if err := r.resolve(); err != nil {
		return nil, err
	}
	paths, err := r.paths()
	if err != nil {
		return nil, err
	}
	var blobs []Blob
	for _, o := range r.objects {
		switch {
		case o.resolved && o.typ == plumbing.BlobObject:
			blobs = append(blobs, Blob{Path: paths[o.hash], Hash: o.hash.String(), Data: o.data})
		case !o.resolved:
			b := Blob{Partial: true, Data: o.inserted}
			if !o.baseHash.IsZero() {
				b.Base = o.baseHash.String()
			}
			blobs = append(blobs, b)
		}
	}
	return blobs, nil
}

// scan reads every entry with go-git's Scanner, which parses the framing,
// inflates each entry no further than its header's size and checks the
// trailing checksum. Its Parser would also resolve deltas, but it fails on
// a thin pack unless given the base objects, and it bounds nothing in
// total.
func (r *reader) scan(data []byte, maxObjects int) error {
	sc := packfile.NewScanner(bytes.NewReader(data))
	_, count, err := sc.Header()
	if err != nil {
		return fmt.Errorf("header: %w", noEOF(err))
	}
	if int64(count) > int64(maxObjects) {
		return fmt.Errorf("%w: %d objects, over MaxObjects %d", ErrTooLarge, count, maxObjects)
	}
	byOffset := make(map[int64]*object)
	for range count {
		h, err := sc.NextObjectHeader()
		if err != nil {
			return fmt.Errorf("object header after offset %d: %w", lastOffset(r.objects), noEOF(err))
		}
		if h.Length < 0 {
			return fmt.Errorf("object at offset %d: size overflows", h.Offset)
		}
		// The size is checked before inflating: a few kilobytes of zlib
		// can declare, and hold, gigabytes of zeros.
		if err := r.spend(h.Length, fmt.Sprintf("object at offset %d", h.Offset)); err != nil {
			return err
		}
		buf := bytes.NewBuffer(make([]byte, 0, min(h.Length, 64<<10)))
		// The Scanner stops inflating past h.Length, with an error.
		n, _, err := sc.NextObject(buf)
		if err != nil {
			return fmt.Errorf("object at offset %d: %w", h.Offset, noEOF(err))
		}
		if n != h.Length {
			return fmt.Errorf("object at offset %d: inflates to %d bytes, header says %d", h.Offset, n, h.Length)
		}
		o := &object{offset: h.Offset, typ: h.Type, data: buf.Bytes()}
		switch h.Type {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			o.hash = plumbing.ComputeHash(h.Type, o.data)
			o.resolved = true
		case plumbing.OFSDeltaObject:
			if byOffset[h.OffsetReference] == nil {
				return fmt.Errorf("object at offset %d: ofs-delta base %d is not an object's offset", h.Offset, h.OffsetReference)
			}
			o.baseOffset = h.OffsetReference
		case plumbing.REFDeltaObject:
			o.baseHash = h.Reference
		default:
			return fmt.Errorf("object at offset %d: invalid type %d", h.Offset, h.Type)
		}
		byOffset[h.Offset] = o
		r.objects = append(r.objects, o)
	}
	if _, err := sc.Checksum(); err != nil {
		return fmt.Errorf("checksum: %w", noEOF(err))
	}
	// SeekFromStart reports where the scanner was: just past the
	// checksum. A pack is all the rest of the body.
	end, err := sc.SeekFromStart(0)
	if err != nil {
		return fmt.Errorf("finding the end of the pack: %w", err)
	}
	if end != int64(len(data)) {
		return fmt.Errorf("%d bytes after the pack's checksum", int64(len(data))-end)
	}
	return nil
}

// resolve applies every delta whose base is in the pack, bases before
// the deltas on them whatever their order in the pack, and keeps the
// inserted bytes of the rest. Each delta resolves once, so the work is
// linear and a chain of any depth needs no recursion.
func (r *reader) resolve() error {
	byBaseOffset := make(map[int64][]*object)
	byBaseHash := make(map[plumbing.Hash][]*object)
	var queue []*object
	for _, o := range r.objects {
		switch {
		case o.resolved:
			queue = append(queue, o)
		case o.typ == plumbing.OFSDeltaObject:
			byBaseOffset[o.baseOffset] = append(byBaseOffset[o.baseOffset], o)
		default:
			byBaseHash[o.baseHash] = append(byBaseHash[o.baseHash], o)
		}
	}
	for len(queue) > 0 {
		base := queue[0]
		queue = queue[1:]
		deltas := slices.Concat(byBaseOffset[base.offset], byBaseHash[base.hash])
		delete(byBaseOffset, base.offset)
		delete(byBaseHash, base.hash)
		for _, o := range deltas {
			d, err := parseDelta(o.data)
			if err != nil {
				return fmt.Errorf("delta at offset %d: %w", o.offset, err)
			}
			if err := r.spend(int64(min(d.resultSize, 1<<62)), fmt.Sprintf("delta at offset %d", o.offset)); err != nil {
				return err
			}
			result, err := d.apply(base.data)
			if err != nil {
				return fmt.Errorf("delta at offset %d: %w", o.offset, err)
			}
			o.typ, o.data, o.resolved = base.typ, result, true
			o.hash = plumbing.ComputeHash(o.typ, o.data)
			queue = append(queue, o)
		}
	}
	for _, o := range r.objects {
		if o.resolved {
			continue
		}
		d, err := parseDelta(o.data)
		if err != nil {
			return fmt.Errorf("delta at offset %d: %w", o.offset, err)
		}
		o.inserted, o.runs, err = d.inserts()
		if err != nil {
			return fmt.Errorf("delta at offset %d: %w", o.offset, err)
		}
		// A copy of at most the delta's own bytes, which the budget has
		// counted once.
		if err := r.spend(int64(len(o.inserted)), fmt.Sprintf("delta at offset %d", o.offset)); err != nil {
			return err
		}
	}
	return nil
}

func lastOffset(objects []*object) int64 {
	if len(objects) == 0 {
		return 0
	}
	return objects[len(objects)-1].offset
}

// noEOF turns the end of the data inside the pack into an error that says
// so: io.EOF alone would read as a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("pack is truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}
