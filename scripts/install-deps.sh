#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine (as root):
# fuse3 (fusermount3), the tools the POSIX-mode tests drive, and the pinned
# MinIO server, built once and cached.
set -euo pipefail

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
CACHE="${BUCKETFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bucketfs}"
MINIO_BIN="$CACHE/minio-$MINIO_VERSION/minio"

if ! command -v fusermount3 >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: fusermount3 is missing and we are not root: apt-get install fuse3" >&2
		exit 1
	fi
	echo "install-deps: installing fuse3" >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null
fi
# The end-to-end tests of POSIX mode drive the tools users run on a mount.
missing=""
for tool in rsync:rsync git:git sqlite3:sqlite3 zip:zip unzip:unzip vim:vim tar:tar; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing$missing and we are not root: apt-get install$missing" >&2
		exit 1
	fi
	echo "install-deps: installing$missing" >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if [ ! -e /dev/fuse ]; then
	echo "install-deps: /dev/fuse does not exist: this machine cannot mount FUSE file systems" >&2
	exit 1
fi

if [ ! -x "$MINIO_BIN" ]; then
	echo "install-deps: building MinIO $MINIO_VERSION (a few minutes, once) into $MINIO_BIN" >&2
	mkdir -p "$(dirname "$MINIO_BIN")"
	tmp="$(mktemp -d)"
	(cd "$tmp" && GOBIN="$(dirname "$MINIO_BIN")" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION")
	rm -rf "$tmp"
fi
echo "$MINIO_BIN"
