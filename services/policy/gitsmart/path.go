// Package gitsmart classifies requests of the git smart HTTP protocol
// (Documentation/gitprotocol-http.txt): which service a request is for,
// which repository it names, and, for a push, which refs it updates.
//
// It is the part of the policy service that understands git; the rules
// package turns its results into CEL variables.
package gitsmart

import (
	"net/url"
	"strings"
)

// The two smart-HTTP services.
const (
	// ServiceUploadPack serves fetch and clone: a read.
	ServiceUploadPack = "git-upload-pack"
	// ServiceReceivePack serves push: a write.
	ServiceReceivePack = "git-receive-pack"
)

// The two phases of a smart-HTTP exchange.
const (
	// PhaseAdvertise is the ref advertisement,
	// GET <repo>/info/refs?service=<service>.
	PhaseAdvertise = "advertise"
	// PhaseRPC is the exchange itself, POST <repo>/<service>.
	PhaseRPC = "rpc"
)

// Request is the classification of one smart-HTTP request.
type Request struct {
	// Service is ServiceUploadPack or ServiceReceivePack, or "" when the
	// request is not a smart-HTTP request.
	Service string
	// Phase is PhaseAdvertise or PhaseRPC, or "" when the request is not a
	// smart-HTTP request.
	Phase string
	// Repo is the repository the request names, lower-cased, without the
	// leading slash and without a trailing ".git": "acme/api". It is ""
	// when the request is not a smart-HTTP request.
	Repo string
	// Write reports whether the request can change the repository. It is
	// true for both phases of git-receive-pack. For a request that is not
	// a smart-HTTP request it is true unless the method is GET or HEAD.
	Write bool
	// Known reports whether the request is a smart-HTTP request: a GET of
	// info/refs with a service parameter naming one of the two services,
	// or a POST to one of the two service endpoints.
	Known bool
}

// ClassifyPath classifies a request on a git connection. path is the
// canonical request path relative to the connection root
// ("/acme/api.git/info/refs") and rawQuery the query string without "?".
//
// Anything that is not one of the three smart-HTTP routes, including the
// dumb HTTP protocol (GET <repo>/HEAD, <repo>/objects/...), a route with
// the wrong method, an unknown service or an empty repository, is returned
// with Known false and Write set from the method alone.
//
// Matching is case-sensitive, as in git http-backend: "/INFO/REFS" is not
// the ref advertisement. Only the repository is lower-cased, because
// GitHub owner and repository names are case-insensitive.
func ClassifyPath(method, path, rawQuery string) Request {
	unknown := Request{Write: method != "GET" && method != "HEAD"}

	var service, phase, repo string
	switch {
	case strings.HasSuffix(path, "/info/refs"):
		if method != "GET" {
			return unknown
		}
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			return unknown
		}
		switch s := values["service"]; {
		case len(s) == 0:
			// The dumb protocol's ref list.
			return unknown
		case len(s) > 1:
			// git http-backend takes the last value and other servers
			// may take the first, so a request naming the service twice
			// could be read as a push advertisement upstream whatever we
			// pick. Treat it as a possible write.
			unknown.Write = true
			return unknown
		default:
			service = s[0]
		}
		if service != ServiceUploadPack && service != ServiceReceivePack {
			return unknown
		}
		phase, repo = PhaseAdvertise, strings.TrimSuffix(path, "/info/refs")
	case strings.HasSuffix(path, "/"+ServiceUploadPack), strings.HasSuffix(path, "/"+ServiceReceivePack):
		if method != "POST" {
			return unknown
		}
		i := strings.LastIndexByte(path, '/')
		service, phase, repo = path[i+1:], PhaseRPC, path[:i]
	default:
		return unknown
	}

	repo = strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(repo, "/")), ".git")
	if repo == "" {
		return unknown
	}
	return Request{
		Service: service,
		Phase:   phase,
		Repo:    repo,
		Write:   service == ServiceReceivePack,
		Known:   true,
	}
}
