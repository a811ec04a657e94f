package gitsmart

import "testing"

func TestClassifyPath(t *testing.T) {
	const (
		up = ServiceUploadPack
		rp = ServiceReceivePack
	)
	tests := []struct {
		method, path, query string
		want                Request
	}{
		// The three smart-HTTP routes.
		{"GET", "/acme/api.git/info/refs", "service=git-upload-pack",
			Request{Service: up, Phase: PhaseAdvertise, Repo: "acme/api", Known: true}},
		{"GET", "/acme/api.git/info/refs", "service=git-receive-pack",
			Request{Service: rp, Phase: PhaseAdvertise, Repo: "acme/api", Write: true, Known: true}},
		{"POST", "/acme/api.git/git-upload-pack", "",
			Request{Service: up, Phase: PhaseRPC, Repo: "acme/api", Known: true}},
		{"POST", "/acme/api.git/git-receive-pack", "",
			Request{Service: rp, Phase: PhaseRPC, Repo: "acme/api", Write: true, Known: true}},
		// Without ".git", in another case, nested, with other parameters.
		{"POST", "/acme/api/git-upload-pack", "",
			Request{Service: up, Phase: PhaseRPC, Repo: "acme/api", Known: true}},
		{"GET", "/Acme/API.GIT/info/refs", "service=git-upload-pack",
			Request{Service: up, Phase: PhaseAdvertise, Repo: "acme/api", Known: true}},
		{"POST", "/group/sub/repo.git/git-receive-pack", "",
			Request{Service: rp, Phase: PhaseRPC, Repo: "group/sub/repo", Write: true, Known: true}},
		{"GET", "/acme/api.git/info/refs", "foo=1&service=git-receive-pack",
			Request{Service: rp, Phase: PhaseAdvertise, Repo: "acme/api", Write: true, Known: true}},
		{"GET", "/acme/api.git/info/refs", "service=git%2Dreceive%2Dpack",
			Request{Service: rp, Phase: PhaseAdvertise, Repo: "acme/api", Write: true, Known: true}},
		// Only one ".git" is removed.
		{"POST", "/acme/api.git.git/git-upload-pack", "",
			Request{Service: up, Phase: PhaseRPC, Repo: "acme/api.git", Known: true}},

		// The dumb protocol: reads by GET, anything else a possible write.
		{"GET", "/acme/api.git/info/refs", "", Request{}},
		{"GET", "/acme/api.git/HEAD", "", Request{}},
		{"GET", "/acme/api.git/objects/info/packs", "", Request{}},
		{"HEAD", "/acme/api.git/objects/ab/cdef0123", "", Request{}},
		{"PUT", "/acme/api.git/objects/ab/cdef0123", "", Request{Write: true}},
		{"MKCOL", "/acme/api.git/objects/ab", "", Request{Write: true}},
		{"PROPFIND", "/acme/api.git/", "", Request{Write: true}},
		// Wrong method for the route.
		{"POST", "/acme/api.git/info/refs", "service=git-upload-pack", Request{Write: true}},
		{"GET", "/acme/api.git/git-receive-pack", "", Request{}},
		{"GET", "/acme/api.git/git-upload-pack", "", Request{}},
		{"PUT", "/acme/api.git/git-receive-pack", "", Request{Write: true}},
		// Unknown, misspelled, or ambiguous service.
		{"GET", "/acme/api.git/info/refs", "service=git-upload-archive", Request{}},
		{"GET", "/acme/api.git/info/refs", "service=", Request{}},
		{"GET", "/acme/api.git/info/refs", "service=GIT-RECEIVE-PACK", Request{}},
		{"GET", "/acme/api.git/info/refs", "service=git-upload-pack&service=git-receive-pack", Request{Write: true}},
		{"GET", "/acme/api.git/info/refs", "service=git-upload-pack&service=git-upload-pack", Request{Write: true}},
		{"GET", "/acme/api.git/info/refs", "service=%zz", Request{}},
		{"POST", "/acme/api.git/git-upload-archive", "", Request{Write: true}},
		// The suffix is case-sensitive, as in git http-backend.
		{"GET", "/acme/api.git/INFO/REFS", "service=git-upload-pack", Request{}},
		{"POST", "/acme/api.git/GIT-RECEIVE-PACK", "", Request{Write: true}},
		{"POST", "/acme/api.git/xgit-receive-pack", "", Request{Write: true}},
		// No repository.
		{"GET", "/info/refs", "service=git-upload-pack", Request{}},
		{"POST", "/git-receive-pack", "", Request{Write: true}},
		{"POST", "/.git/git-receive-pack", "", Request{Write: true}},
		{"GET", "/", "", Request{}},
		{"POST", "/", "", Request{Write: true}},
	}
	for _, tt := range tests {
		got := ClassifyPath(tt.method, tt.path, tt.query)
		if got != tt.want {
			t.Errorf("ClassifyPath(%q, %q, %q) = %+v, want %+v", tt.method, tt.path, tt.query, got, tt.want)
		}
	}
}
