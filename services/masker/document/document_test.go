package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// upper is a text pass that "masks" the word SECRET.
func upper(text []byte) ([]byte, []TextFinding) {
	var fs []TextFinding
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte("SECRET"))
		if j < 0 {
			break
		}
		fs = append(fs, TextFinding{Rule: "word", Start: i + j, End: i + j + 6})
		i += j + 6
	}
	return bytes.ReplaceAll(text, []byte("SECRET"), []byte("[MASKED:word]")), fs
}

func placeholder(rule string) string { return "[MASKED:" + rule + "]" }

func TestMalformedDocumentsAreNotJSON(t *testing.T) {
	m, err := New([]string{"password"}, placeholder)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		``, `{`, `{"a":}`, `{"a" 1}`, `[1,]`, `{"a":1,}`, `"unterminated`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`tru`, `{"a":1} trailing`, `01x`, `{1:2}`, strings.Repeat("[", 2000) + strings.Repeat("]", 2000),
	} {
		out, _, err := m.Mask([]byte(doc), upper)
		if !errors.Is(err, ErrNotJSON) {
			t.Errorf("%.40q: err = %v, want ErrNotJSON", doc, err)
		}
		if string(out) != doc {
			t.Errorf("%.40q: changed to %.40q", doc, out)
		}
	}
}

func TestFieldRuleErrors(t *testing.T) {
	for _, f := range []string{"", "a..b", "a.*", "$."} {
		if _, err := New([]string{f}, placeholder); err == nil {
			t.Errorf("field rule %q accepted", f)
		}
	}
}

// FuzzMask: whatever the document, Mask does not panic; a valid document
// stays valid, and a string with an escaped quote loses its SECRET.
func FuzzMask(f *testing.F) {
	for _, seed := range []string{
		`{"password":"x","content":"U0VDUkVU","encoding":"base64"}`,
		`{"a":[1,2,{"b":"say \"SECRET\""}],"content":"\"SECRET\""}`,
		`[true,false,null,-1.5e3,"\u0041"]`,
		`{"Password":{"deep":[{"x":1}]}}`,
	} {
		f.Add([]byte(seed))
	}
	m, err := New([]string{"password", "*.token", "$.a.b"}, placeholder)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, _, err := m.Mask(doc, upper)
		if !json.Valid(doc) {
			return
		}
		if err != nil {
			t.Fatalf("valid document refused: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("valid document became invalid: %q → %q", doc, out)
		}
	})
}

// BenchmarkApplies64KiB is the test every JSON body gets before parsing,
// on 64 KiB that holds none of what it looks for (the common case: every
// byte is read).
func BenchmarkApplies64KiB(b *testing.B) {
	m, err := New([]string{"password", "secret", "*.private_key", "$.a.b", "token", "api_key", "client_secret", "passwd"}, func(string) string { return "x" })
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(`{"items":[` + strings.Repeat(`{"title":"flaky test","body":"nothing to see here at all"},`, 1200) + `{}]}`)[:64<<10]
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if m.Applies(doc) {
			b.Fatal("applies")
		}
	}
}
