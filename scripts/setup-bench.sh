#!/usr/bin/env bash
# What `npm run bench:files` needs besides the project's npm packages: rsync, Syncthing (Debian's
# package), GNU time (rsync's peak RSS), util-linux's unshare and iproute2 (the bench runs in a
# private network namespace with only lo). Idempotent: a second run only checks.
set -euo pipefail

need=()
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v syncthing >/dev/null 2>&1 || need+=(syncthing)
[ -x /usr/bin/time ] || need+=(time)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v findmnt >/dev/null 2>&1 || need+=(util-linux)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-bench: missing ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup-bench: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "setup-bench: rsync $(rsync --version | head -1 | awk '{print $3}'), $(syncthing --version | awk '{print $1, $2}')"
