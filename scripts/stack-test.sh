#!/usr/bin/env bash
# The separate-process stack test (`make stack`): a real nats-server built
# from source with deploy/nats/nats.conf, a real MinIO, and every service as
# its own OS process with deploy/compose/airlock.yaml, driven by curl and
# git (services/airlock/stack/processes_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ci-deps.sh
make build
export PATH="$(go env GOPATH)/bin:$PATH"
echo "stack: $(nats-server --version), minio, bin/{airlock,ingress,policy,masker,approver,recorder}"
AIRLOCK_STACK_BIN="$PWD/bin" go test -tags stack -count=1 -timeout 5m -v \
	-run '^TestSeparateProcessStack$' ./services/airlock/stack
