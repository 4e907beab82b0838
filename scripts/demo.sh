#!/usr/bin/env bash
# make demo / make demo-stop: a local MinIO with a sample bucket, mounted at ./mnt.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.demo
MNT="$PWD/mnt"
export AWS_ACCESS_KEY_ID=bucketfs-demo AWS_SECRET_ACCESS_KEY=bucketfs-demo-secret AWS_REGION=us-east-1

stop() {
	if [ -d "$MNT" ] && grep -qs " $MNT .* fuse.bucketfs " /proc/self/mountinfo; then
		bin/bucketfs unmount "$MNT" || fusermount3 -uz "$MNT" || true
	fi
	if [ -f "$STATE/minio.pid" ]; then
		kill "$(cat "$STATE/minio.pid")" 2>/dev/null || true
		rm -f "$STATE/minio.pid"
	fi
	echo "demo stopped (MinIO data kept in $STATE/data; rm -rf $STATE to forget it)"
}

start() {
	[ -x bin/bucketfs ] || { echo "run 'make demo' (it builds bin/bucketfs first)" >&2; exit 1; }
	MINIO="$(bash scripts/install-deps.sh)"
	stop >/dev/null 2>&1 || true
	mkdir -p "$STATE/data" "$MNT"
	PORT="$(go run ./scripts/demoseed --free-port)"
	ENDPOINT="http://127.0.0.1:$PORT"
	MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" MINIO_BROWSER=off \
		setsid "$MINIO" server --quiet --address "127.0.0.1:$PORT" "$STATE/data" >"$STATE/minio.log" 2>&1 </dev/null &
	echo $! >"$STATE/minio.pid"
	go run ./scripts/demoseed --endpoint-url "$ENDPOINT" --bucket demo-bucket
	bin/bucketfs mount demo-bucket "$MNT" --endpoint-url "$ENDPOINT" --force-path-style --region us-east-1 \
		--allow-delete --allow-overwrite
	cat <<MSG

bucketfs demo: the bucket "demo-bucket" on a local MinIO ($ENDPOINT) is mounted at ./mnt

Try:
  ls -l mnt mnt/datasets            # directories come from the keys' "/" separators
  cat mnt/README.txt mnt/datasets/iris.csv
  dd if=mnt/datasets/big.bin of=/dev/null bs=1M   # a 64 MiB object, streamed
  echo "hello" > mnt/results/hello.txt            # uploaded when the file is closed
  echo more >> mnt/results/hello.txt              # refused: objects cannot be appended to
  rm mnt/results/hello.txt                        # allowed here: mounted with --allow-delete
  mv mnt/README.txt mnt/x                         # refused: S3 has no rename

Mounted with --posix instead (bin/bucketfs unmount mnt, then the command below with --posix), the two refused
lines work: edits are staged locally and committed at close with a conditional write.

The same mount by hand (credentials in the environment, as for the AWS CLI):
  AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \\
    bin/bucketfs mount demo-bucket ./mnt --endpoint-url $ENDPOINT --force-path-style --region us-east-1

Stop:  make demo-stop        (unmounts ./mnt and stops MinIO)
MSG
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
