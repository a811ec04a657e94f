package schemas

import "testing"

func TestValidateRejectsWhatTheContractForbids(t *testing.T) {
	tests := []struct {
		name, event, doc string
		ok               bool
	}{
		{"verdict ok", "verdict", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","effect":"allow","rule":"r","reason":"","eval_us":3}`, true},
		{"verdict bad effect", "verdict", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","effect":"maybe","rule":"r","reason":"","eval_us":3}`, false},
		{"verdict wrong version", "verdict", `{"v":2,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","effect":"allow","rule":"r","reason":"","eval_us":3}`, false},
		{"verdict bad time", "verdict", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"yesterday","effect":"allow","rule":"r","reason":"","eval_us":3}`, false},
		{"request with credential header", "request", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","connection":"demo","connection_type":"http","identity":{"sub":"a","iss":"b","groups":[]},"method":"GET","host":"h","path":"/","query":"","headers":{"Authorization":["Bearer x"]}}`, false},
		{"request ok", "request", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","connection":"demo","connection_type":"http","identity":{"sub":"a","iss":"b","groups":[]},"method":"GET","host":"h","path":"/","query":"","headers":{"Accept":["*/*"]}}`, true},
		{"response with findings", "response", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","connection":"demo","status":200,"forwarded":true,"bytes_in":0,"bytes_out":9,"upstream_ms":1,"masked":true,"findings":[{"rule":"github-pat","location":"body@12","fingerprint":"8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"}]}`, true},
		{"response finding carrying a value", "response", `{"v":1,"id":"01JCZ7Z0K8Q0A4M6W2B8C9D0EF","time":"2026-11-23T10:00:00Z","connection":"demo","status":200,"forwarded":true,"bytes_in":0,"bytes_out":9,"upstream_ms":1,"findings":[{"rule":"github-pat","location":"body@12","secret":"ghp_x"}]}`, false},
		{"broken json", "audit", `{"v":1,`, false},
		{"unknown event", "nope", `{}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.event, []byte(tt.doc))
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
