package gitsmart

import (
	"errors"
	"strings"
	"testing"
)

// pkt frames s as one pkt-line: four hex digits of length, header
// included, then s (Documentation/gitprotocol-common.txt).
func pkt(s string) string {
	const hex = "0123456789abcdef"
	n := len(s) + 4
	return string([]byte{hex[n>>12&15], hex[n>>8&15], hex[n>>4&15], hex[n&15]}) + s
}

func TestPktReader(t *testing.T) {
	type line struct {
		kind    pktKind
		payload string
	}
	tests := []struct {
		name  string
		in    string
		lines []line
		// err is "" when the input ends cleanly or inside a line
		// (errShort), else a substring of the error.
		err string
	}{
		{"empty", "", nil, ""},
		{"flush", "0000", []line{{pktFlush, ""}}, ""},
		{"delim and response-end", "00010002", []line{{pktDelim, ""}, {pktResponseEnd, ""}}, ""},
		{"empty payload", "0004", []line{{pktData, ""}}, ""},
		{"data", pkt("hello\n") + "0000", []line{{pktData, "hello\n"}, {pktFlush, ""}}, ""},
		{"uppercase hex", "000Aabcdef", []line{{pktData, "abcdef"}}, ""},
		{"binary payload", pkt("\x00\xff\n"), []line{{pktData, "\x00\xff\n"}}, ""},
		{"maximum length", pkt(strings.Repeat("x", maxPktLen-4)), []line{{pktData, strings.Repeat("x", maxPktLen-4)}}, ""},

		{"partial header", "00", nil, ""},
		{"partial payload", "000ahel", nil, ""},
		{"line then partial", pkt("a") + "000", []line{{pktData, "a"}}, ""},

		{"length 3", "0003", nil, `invalid length "0003"`},
		{"over the maximum", "fff1", nil, "length 65521 over the maximum 65520"},
		{"ffff", "ffff", nil, "over the maximum"},
		{"non-hex", "00g0", nil, `invalid length "00g0"`},
		{"sign", "+004", nil, "invalid length"},
		{"space", " 004", nil, "invalid length"},
		{"partial non-hex", "0z", nil, `invalid length "0z"`},
		{"non-hex after a line", pkt("a") + "PACK", []line{{pktData, "a"}}, `offset 5: invalid length "PACK"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pktReader{buf: []byte(tt.in)}
			var got []line
			var err error
			for {
				var kind pktKind
				var payload []byte
				kind, payload, err = r.next()
				if err != nil {
					break
				}
				got = append(got, line{kind, string(payload)})
			}
			if len(got) != len(tt.lines) {
				t.Fatalf("read %d lines %v, want %v", len(got), got, tt.lines)
			}
			for i := range got {
				if got[i] != tt.lines[i] {
					t.Errorf("line %d = %v, want %v", i, got[i], tt.lines[i])
				}
			}
			switch {
			case tt.err == "" && !errors.Is(err, errShort):
				t.Errorf("error %v, want the end of the input", err)
			case tt.err != "" && (err == nil || errors.Is(err, errShort) || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}
