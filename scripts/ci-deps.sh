#!/usr/bin/env bash
# Installs what Airlock's tests need, only when it is missing, at pinned
# versions. Safe to run again.
set -euo pipefail

STATICCHECK_VERSION=v0.8.2   # honnef.co/go/tools
# github.com/minio/minio has no semver tags: a pseudo-version pins a commit
# (master, 2026-02-12). It is a large build: about 2 minutes on 2 cores with
# the modules cached, 4.5 minutes when it downloads them too.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# The NATS server of the separate-process stack test (make stack): the
# version the Go modules embed.
NATS_SERVER_VERSION=v2.15.2
GO_MIN=1.26

have() { command -v "$1" >/dev/null 2>&1; }
gobin="$(go env GOPATH)/bin"

if ! have go; then
	echo "ci-deps: go $GO_MIN or newer is required (https://go.dev/dl)" >&2
	exit 1
fi
gov=$(go env GOVERSION); gov=${gov#go}
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$gov" | sort -V | head -1)" != "$GO_MIN" ]; then
	echo "ci-deps: go $GO_MIN or newer is required, found $gov" >&2
	exit 1
fi

apt_install() {
	if ! have apt-get; then
		echo "ci-deps: $* missing and no apt-get to install it" >&2
		exit 1
	fi
	echo "ci-deps: apt-get install $*"
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# Real clients the end-to-end tests drive.
have git || apt_install git
have curl || apt_install curl

# Linter, for `make lint`.
if [ ! -x "$gobin/staticcheck" ] || ! "$gobin/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
	echo "ci-deps: go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# Object store for the recorder's tests (services/recorder/store/storetest).
# A `go install`ed minio says "DEVELOPMENT.GOGET" to `minio --version`, so
# the check reads the module version Go stamped into the binary instead:
# `go version -m` prints "mod github.com/minio/minio <version> <sum>", and it
# must equal the pin exactly.
minio_installed() {
	go version -m "$gobin/minio" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3 }'
}
if [ ! -x "$gobin/minio" ] || [ "$(minio_installed)" != "$MINIO_VERSION" ]; then
	echo "ci-deps: go install github.com/minio/minio@$MINIO_VERSION (a few minutes)"
	go install "github.com/minio/minio@$MINIO_VERSION"
fi

# `nats-server --version` prints "nats-server: v2.15.2".
if [ ! -x "$gobin/nats-server" ] || [ "$("$gobin/nats-server" --version 2>/dev/null)" != "nats-server: $NATS_SERVER_VERSION" ]; then
	echo "ci-deps: go install github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
	go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
fi

echo "ci-deps: ok (go $gov, $(git --version), staticcheck $STATICCHECK_VERSION, minio $MINIO_VERSION, nats-server $NATS_SERVER_VERSION)"
