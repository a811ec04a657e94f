package detect

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzMask checks, for any input, that masking does not panic, that what
// Find found is gone from Mask's output, and that masking the output again
// finds nothing: Mask is idempotent on its output. The seed corpus is in
// testdata/fuzz/FuzzMask; 5b72bd0bbee8b4ef is the fuzzer's find that made
// Mask mask its own output again (see Mask).
func FuzzMask(f *testing.F) {
	d := detector(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		masked, found := d.Mask(data, nil)
		for _, f := range d.Find(data) {
			// Mask reports at least what Find does.
			if !slices.ContainsFunc(found, func(g Finding) bool { return g.Start <= f.Start && f.End <= g.End }) {
				t.Fatalf("Find's %v is not among Mask's %v", f, found)
			}
		}
		for i, fd := range found {
			if fd.Start < 0 || fd.End > len(data) || fd.Start >= fd.End || (i > 0 && fd.Start < found[i-1].End) {
				t.Fatalf("bad finding %v after %v", fd, found[max(0, i-1)])
			}
			secret := data[fd.Start:fd.End]
			// Where the same bytes also occur outside any finding, they
			// may stay; otherwise they must be gone.
			n := 0
			for _, g := range found {
				if bytes.Equal(data[g.Start:g.End], secret) {
					n++
				}
			}
			if bytes.Count(data, secret) == n && bytes.Contains(masked, secret) {
				t.Fatalf("%s secret %q survives masking: %q", fd.RuleID, secret, masked)
			}
		}
		if again := d.Find(masked); len(again) != 0 {
			t.Fatalf("masking %q gives %q, where %v are found", data, masked, describe(masked, again))
		}
	})
}
