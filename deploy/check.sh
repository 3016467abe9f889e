#!/usr/bin/env bash
# Builds the container and runs it as the README's serving section says — read-only root file system, non-root
# user — until its health check passes and it answers a photo; skipped, saying so, where no
# container engine answers (the files are linted by the tests either way).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! timeout 10 docker info > /dev/null 2>&1; then
  echo "deploy/check.sh: no container engine answers here; the container is linted, not run"
  exit 0
fi
docker build -q -f deploy/Dockerfile -t absnet-check . > /dev/null
id=$(docker run -d --read-only --tmpfs /tmp -p 127.0.0.1:18080:8080 absnet-check)
trap 'docker rm -f "$id" > /dev/null' EXIT
for _ in $(seq 60); do
  [[ $(docker inspect -f '{{.State.Health.Status}}' "$id") == healthy ]] && break
  sleep 2
done
[[ $(docker inspect -f '{{.State.Health.Status}}' "$id") == healthy ]] || { docker logs "$id"; exit 1; }
[[ $(docker exec "$id" id -u) != 0 ]]
curl -fsS --data-binary @samples/chelsea.png http://127.0.0.1:18080/v1/saliency | grep -q '"peaks"'
echo "deploy/check.sh: the container is healthy, unprivileged on a read-only root, and answers"
