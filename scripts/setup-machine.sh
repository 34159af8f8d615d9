#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (Node 20 + npm, root) needs for the whole test suite and
# the main job: Debian packages, the project's npm packages (pinned by package-lock.json), and
# the real VS Code host (code-server + Node 24 + Chromium, cached under .vscode-host/).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_needed=()
command -v ip >/dev/null 2>&1 || apt_needed+=(iproute2)
command -v ping >/dev/null 2>&1 || apt_needed+=(iputils-ping)
if [ ${#apt_needed[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${apt_needed[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_needed[@]}"
  else
    echo "setup: not root, cannot install ${apt_needed[*]} (the netns level will be skipped)"
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ -f scripts/vscode-host/setup.sh ]; then
  bash scripts/vscode-host/setup.sh
fi
echo "setup: done"
