package gitsmart

import (
	"errors"
	"fmt"
)

// maxPktLen is the largest pkt-line git sends or accepts, header included
// (LARGE_PACKET_MAX in git's pkt-line.h).
const maxPktLen = 65520

// pktKind is the kind of a pkt-line (Documentation/gitprotocol-common.txt).
type pktKind int

const (
	pktData        pktKind = iota // a length of 0004 or more, then the payload
	pktFlush                      // 0000
	pktDelim                      // 0001, protocol v2 only
	pktResponseEnd                // 0002, protocol v2 only
)

func (k pktKind) String() string {
	switch k {
	case pktFlush:
		return "flush-pkt"
	case pktDelim:
		return "delim-pkt"
	case pktResponseEnd:
		return "response-end-pkt"
	default:
		return "data pkt-line"
	}
}

// errShort reports that the input ended inside a pkt-line. The parser
// turns it into Push.Truncated: the gateway inspects a prefix of the body.
var errShort = errors.New("input ends inside a pkt-line")

// pktReader reads pkt-lines from a byte slice, strictly: the length is
// exactly four hex digits, 0003 is invalid and no line is longer than
// maxPktLen.
type pktReader struct {
	buf []byte
	off int
}

// next returns the next pkt-line. The payload of a data line aliases the
// input. At the end of the input, or in the middle of a line, it returns
// errShort; a malformed header is an error naming its offset.
func (r *pktReader) next() (pktKind, []byte, error) {
	rest := r.buf[r.off:]
	if len(rest) < 4 {
		// A partial header that is already invalid is an error, not a
		// truncation.
		for _, c := range rest {
			if !isHex(c) {
				return 0, nil, fmt.Errorf("pkt-line at offset %d: invalid length %q", r.off, rest)
			}
		}
		return 0, nil, errShort
	}
	n := 0
	for _, c := range rest[:4] {
		if !isHex(c) {
			return 0, nil, fmt.Errorf("pkt-line at offset %d: invalid length %q", r.off, rest[:4])
		}
		n = n<<4 | int(unhex(c))
	}
	switch {
	case n == 0:
		r.off += 4
		return pktFlush, nil, nil
	case n == 1:
		r.off += 4
		return pktDelim, nil, nil
	case n == 2:
		r.off += 4
		return pktResponseEnd, nil, nil
	case n < 4:
		return 0, nil, fmt.Errorf("pkt-line at offset %d: invalid length %q", r.off, rest[:4])
	case n > maxPktLen:
		return 0, nil, fmt.Errorf("pkt-line at offset %d: length %d over the maximum %d", r.off, n, maxPktLen)
	case n > len(rest):
		return 0, nil, errShort
	}
	r.off += n
	return pktData, rest[4:n], nil
}

// rest returns the input after the last pkt-line read.
func (r *pktReader) rest() []byte { return r.buf[r.off:] }

// isHex reports whether c is a hex digit. Like git, it accepts both cases
// in a pkt-line length.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
