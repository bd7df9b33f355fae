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

# The *VsFio benchmarks need fio, installed here when missing, and a few GiB
# of real disk under TMPDIR; their first iteration outlasts -benchtime, so
# each runs its rounds once.
# benchmarks, each quoted against a reference measured in the same run
bench:
    command -v fio >/dev/null || apt-get install -y fio || sudo apt-get install -y fio
    go test -run '^$' -bench . -benchmem ./...

# every fuzz target for a while each (60s; CI runs `.ci/fuzz 10s`)
fuzz time="60s":
    .ci/fuzz {{time}}

# formatting and vet, as CI checks them
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))"
    go vet ./...
