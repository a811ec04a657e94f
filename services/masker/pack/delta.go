package pack

import (
	"errors"
	"fmt"
)

// A delta, as Documentation/gitformat-pack.txt describes it: the size of
// the base and the size of the result, each a little-endian base-128
// varint, then instructions until the end of the data. An instruction
// byte with the high bit set copies a range of the base; its low four bits
// say which offset bytes follow, the next three which size bytes follow (a
// size of 0 means 0x10000). A byte from 1 to 127 inserts that many bytes,
// which follow it. A zero byte is reserved.
//
// Scan reads deltas itself rather than with go-git's PatchDelta because it
// needs the instructions, not only their result, for thin deltas, and one
// reader for both keeps their checks the same.

var errDelta = errors.New("invalid delta")

// delta is a parsed delta header and its instructions.
type delta struct {
	baseSize, resultSize uint64
	ops                  []byte
}

func parseDelta(d []byte) (delta, error) {
	base, d, err := deltaSize(d)
	if err != nil {
		return delta{}, fmt.Errorf("%w: base size: %w", errDelta, err)
	}
	result, d, err := deltaSize(d)
	if err != nil {
		return delta{}, fmt.Errorf("%w: result size: %w", errDelta, err)
	}
	return delta{baseSize: base, resultSize: result, ops: d}, nil
}

// deltaSize reads a delta header's varint. git's get_delta_hdr_size
// reads at most a size_t; more than 64 bits is an error here.
func deltaSize(d []byte) (uint64, []byte, error) {
	var v uint64
	for i, shift := 0, uint(0); i < len(d); i, shift = i+1, shift+7 {
		b := d[i]
		if shift > 63 || (shift == 63 && b&0x7f > 1) {
			return 0, nil, errors.New("overflows 64 bits")
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, d[i+1:], nil
		}
	}
	return 0, nil, errors.New("truncated")
}

// each runs the instructions, checking them as git's patch_delta does:
// every copy lies within the base, the output adds up to exactly the
// result size, and nothing follows the last instruction. For an insert,
// fn gets the inserted bytes (aliasing the delta) and n == len(ins); for a
// copy, ins is nil.
func (d delta) each(fn func(off, n uint64, ins []byte)) error {
	ops := d.ops
	left := d.resultSize
	for len(ops) > 0 {
		cmd := ops[0]
		ops = ops[1:]
		switch {
		case cmd&0x80 != 0:
			var off, n uint64
			for i := range 4 {
				if cmd&(1<<i) != 0 {
					if len(ops) == 0 {
						return fmt.Errorf("%w: truncated copy", errDelta)
					}
					off |= uint64(ops[0]) << (8 * i)
					ops = ops[1:]
				}
			}
			for i := range 3 {
				if cmd&(0x10<<i) != 0 {
					if len(ops) == 0 {
						return fmt.Errorf("%w: truncated copy", errDelta)
					}
					n |= uint64(ops[0]) << (8 * i)
					ops = ops[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off > d.baseSize || n > d.baseSize-off {
				return fmt.Errorf("%w: copy of %d bytes at %d from a base of %d", errDelta, n, off, d.baseSize)
			}
			if n > left {
				return fmt.Errorf("%w: output beyond the declared %d bytes", errDelta, d.resultSize)
			}
			left -= n
			fn(off, n, nil)
		case cmd != 0:
			n := uint64(cmd)
			if uint64(len(ops)) < n {
				return fmt.Errorf("%w: truncated insert", errDelta)
			}
			if n > left {
				return fmt.Errorf("%w: output beyond the declared %d bytes", errDelta, d.resultSize)
			}
			left -= n
			fn(0, n, ops[:n])
			ops = ops[n:]
		default:
			return fmt.Errorf("%w: reserved instruction 0", errDelta)
		}
	}
	if left != 0 {
		return fmt.Errorf("%w: output %d bytes short of the declared %d", errDelta, left, d.resultSize)
	}
	return nil
}

// apply builds the delta's result from base. The caller has checked
// resultSize against its budget.
func (d delta) apply(base []byte) ([]byte, error) {
	if uint64(len(base)) != d.baseSize {
		return nil, fmt.Errorf("%w: base of %d bytes, delta wants %d", errDelta, len(base), d.baseSize)
	}
	// Grow as instructions arrive, not to the declared size up front, so
	// that a short malformed delta cannot make Scan allocate much.
	out := make([]byte, 0, min(d.resultSize, 1<<20))
	err := d.each(func(off, n uint64, ins []byte) {
		if ins != nil {
			out = append(out, ins...)
		} else {
			out = append(out, base[off:off+n]...)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// inserts returns the bytes the delta inserts, as Blob.Data holds them,
// and the runs they are made of, which alias data. Adjacent inserts make
// one run: git writes at most 127 bytes per insert, so a long added line
// comes as several. A newline separates runs that a copy parted, so that
// a detector does not take bytes on either side of the copy as adjacent.
func (d delta) inserts() (data []byte, runs [][]byte, err error) {
	var starts []int
	joining := false
	err = d.each(func(_, _ uint64, ins []byte) {
		switch {
		case ins == nil:
			joining = false
		case joining:
			data = append(data, ins...)
		default:
			if len(starts) > 0 {
				data = append(data, '\n')
			}
			starts = append(starts, len(data))
			data = append(data, ins...)
			joining = true
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for i, start := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1] - 1
		}
		runs = append(runs, data[start:end:end])
	}
	return data, runs, nil
}
