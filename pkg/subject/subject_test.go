package subject

import "testing"

func TestSubjectsStayOneToken(t *testing.T) {
	tests := []struct{ conn, want string }{
		{"github", "airlock.req.github.01J"},
		{"a.b", "airlock.req.a_b.01J"},
		{"*", "airlock.req._.01J"},
		{">", "airlock.req._.01J"},
		{"", "airlock.req._.01J"},
	}
	for _, tt := range tests {
		if got := Request(tt.conn, "01J"); got != tt.want {
			t.Errorf("Request(%q) = %q, want %q", tt.conn, got, tt.want)
		}
	}
	if id, ok := IDFromVerdict(Verdict("01J")); !ok || id != "01J" {
		t.Errorf("IDFromVerdict round trip = %q, %v", id, ok)
	}
	if _, ok := IDFromVerdict("airlock.resp.01J"); ok {
		t.Error("IDFromVerdict accepted a response subject")
	}
}
