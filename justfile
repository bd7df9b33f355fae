# Everyday tasks; `just --list` shows them. just is on npm as rust-just.

# build the mlps binary into bin/: static (no libc needed where it runs),
# stamped with the commit it was built from (mlps version)
build:
    CGO_ENABLED=0 go build -buildvcs=auto -o bin/mlps ./cmd/mlps

# every test, as CI runs them
test:
    go test ./...

# the README's first command: the demo workload on local files
run:
    go run ./cmd/mlps exec workloads/demo.cue

# The side-by-side benchmarks (backends/pairbench: mlps against fio, a
# plain client loop, copy) need fio, installed here when missing, and a few
# GiB of real disk under TMPDIR; each runs at least 7 alternated pairs, more
# while their ratios disagree, within MLPS_BENCH_BUDGET (default 4m) each.
# benchmarks, then one table of every mlps/reference ratio with its spread
bench:
    #!/usr/bin/env bash
    set -uo pipefail
    command -v fio >/dev/null || apt-get install -y fio || sudo apt-get install -y fio
    table=$(mktemp)
    MLPS_BENCH_TABLE=$table go test -run '^$' -bench . -benchmem -timeout 3h ./...
    rc=$?
    echo
    go run ./backends/pairbench/benchtable "$table"
    rm -f "$table"
    exit $rc

# every fuzz target for a while each (60s; CI runs `.ci/fuzz 10s`)
fuzz time="60s":
    .ci/fuzz {{time}}

# formatting and vet, as CI checks them
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))"
    go vet ./...
