# bucketfs — see README.md.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO      ?= go

.PHONY: build demo demo-stop test unit e2e vet clean bench bench-scale

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/bucketfs ./cmd/bucketfs

# A local MinIO with a sample bucket, mounted at ./mnt.
demo: build
	bash scripts/demo.sh start

demo-stop:
	bash scripts/demo.sh stop

# Everything: unit tests, the object-store conformance suite on memstore and
# MinIO, and the end-to-end tests through real FUSE mounts. Needs root
# (FUSE mounts) and installs fuse3 and the pinned MinIO when missing.
test: vet
	minio="$$(bash scripts/install-deps.sh)" && BUCKETFS_MINIO="$$minio" $(GO) test -count=1 -timeout 30m ./...

unit:
	$(GO) test -count=1 ./internal/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal test bench scripts 2>/dev/null)" || { gofmt -l cmd internal test bench scripts; echo "gofmt needed"; exit 1; }

# Throughput of bucketfs against raw S3, s3fs and rclone on a local MinIO
# (root; installs s3fs, rclone, fio; about 35 min); writes docs/BENCHMARKS.md.
# Quick run: make bench BENCH_ARGS="-size 256MiB -repeat 1 -out /tmp/bench.md"
bench:
	$(GO) run ./bench $(BENCH_ARGS)

# find and ls -lR of trees of 10k, 100k and 1M empty objects against raw LIST
# paging, with the mount's RSS (root; seeding 1M keys takes minutes); writes
# its section of docs/BENCHMARKS.md. Quick run: SCALE=10000,100000
SCALE ?= 10000,100000,1000000
bench-scale:
	$(GO) run ./bench -scale $(SCALE) $(BENCH_ARGS)

clean:
	rm -rf bin
