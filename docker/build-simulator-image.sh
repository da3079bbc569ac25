#!/usr/bin/env bash
# Builds the IB Gateway simulator's Docker image without a registry: the root filesystem is assembled from this
# machine's own node binary and shared libraries plus the app's dist/ and production node_modules, then
# imported with `docker import`. Run with --help for usage.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: docker/build-simulator-image.sh [--skip-build] [TAG]

Builds the IB Gateway simulator image (default tag ib-gateway-simulator:local; the first argument or the IMAGE
environment variable overrides it). No registry is needed: the image is this machine's node binary and the
shared libraries it links, a minimal /etc with the non-root user "ibgateway" (uid 1000, as in the real
gnzsnz/ib-gateway image), the compiled app (dist/) and its production dependencies, put together under
docker/rootfs and loaded with `docker import`.

Steps: npm run build; copy the production dependency tree (as `npm ls --omit=dev` lists it) from
node_modules, so no registry is needed after `npm ci`; copy node and its libraries; import (skipped when the tag
already holds exactly these files, so a rerun is fast).

The container behaves like the real gateway image: TWS_USERID, TWS_PASSWORD or TWS_PASSWORD_FILE,
TRADING_MODE=paper|live, VNC_SERVER_PASSWORD[_FILE]; API on 4004 (paper) / 4003 (live), VNC on 5900, the
simulator's control API on 4010. Simulator knobs: SIM_ACCEPTED_PASSWORD[_FILE] (the password the simulated
IB account has; default "demo"; any TWS_USERID is accepted), SIM_LOGIN_DELAY_MS (default 1500),
SIM_TWOFA=pending, SIM_LOGIN_FAULT=too-many-failed-logins|existing-session (with
EXISTING_SESSION_DETECTED_ACTION=primary|primaryoverride|secondary|manual, default primary), SIM_ACCOUNTS,
SIM_SEED, SIM_VERBOSE=1, SIM_STATE_FILE (where the simulated broker keeps its orders, executions, order ids
and positions, so that `docker restart` or `docker kill` + `docker start` keep them, as IB's servers keep
orders across a gateway restart; default $TWS_SETTINGS_PATH/simulated-broker-state.json, i.e.
/home/ibgateway/Jts/simulated-broker-state.json, a directory of uid 1000 in the image; `none`: memory only).

Builds are serialized with a lock (flock), so concurrent test runs can call this script at the same time.

--skip-build uses dist/ as it is instead of running npm run build first.

Needs: node and npm (Node 20), a running Docker daemon, ldd, tar, sha256sum.
EOF
}

skip_build=no
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  --skip-build)
    skip_build=yes
    shift
    ;;
esac

TAG="${1:-${IMAGE:-ib-gateway-simulator:local}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOTFS="$ROOT/docker/rootfs"
APP="$ROOTFS/app"
HASH_LABEL="ib-gateway-simulator.content-sha256"

step() { printf '==> %s\n' "$*"; }
die() {
  printf 'build-simulator-image: %s\n' "$*" >&2
  exit 1
}

for tool in node npm docker ldd tar sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is required but not installed"
done
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is dockerd running? see .ci/run)"

cd "$ROOT"

# One build at a time: the steps share dist/ and docker/rootfs, and several test files (or engineers) may
# ask for the image at once. Whoever waits finds the image current and imports nothing.
exec 9>"${TMPDIR:-/tmp}/ib-gateway-simulator-build.lock"
flock 9

# dist/ is current when no source, package or tsconfig file changed since the last build this script did.
BUILD_STAMP="$ROOT/dist/.simulator-image-build-stamp"
if [[ "$skip_build" == yes ]]; then
  step "Using the existing dist/ (--skip-build)"
elif [[ -f "$BUILD_STAMP" && -z "$(find src package.json package-lock.json tsconfig.json tsconfig.build.json -newer "$BUILD_STAMP" -print -quit)" ]]; then
  step "dist/ is up to date with src/ (nothing changed since the last build)"
else
  step "Compiling TypeScript (npm run build)"
  started_stamp="$(mktemp)"
  npm run build --silent
  mkdir -p "$ROOT/dist"
  mv "$started_stamp" "$BUILD_STAMP" # dated when the build started: a change made meanwhile is not missed
fi

# Assembled afresh each time: nothing stale survives, and the copy takes a second.
rm -rf "$ROOTFS"
mkdir -p "$APP"

step "Production dependencies (copied from node_modules; run npm ci first)"
# npm ls lists the installed production tree, nested packages included; copying it needs no registry.
prod_packages="$(npm ls --omit=dev --all --parseable 2>/dev/null)" ||
  die "npm ls reports a broken production dependency tree; run npm ci first"
mkdir -p "$APP/node_modules"
cp package.json "$APP/"
count=0
while read -r package; do
  [[ "$package" == "$ROOT" ]] && continue
  relative="${package#"$ROOT"/}"
  mkdir -p "$APP/$(dirname "$relative")"
  cp -a "$package" "$APP/$relative"
  count=$((count + 1))
done <<<"$prod_packages"
echo "    $count packages, $(du -sh "$APP/node_modules" | cut -f1)"

step "App files (dist/)"
mkdir -p "$APP/dist"
(cd dist && find . -type f ! -name '*.map' ! -name '.simulator-image-build-stamp' -print0 | tar --null -T - -cf -) | tar -C "$APP/dist" -xf -
[[ -f "$APP/dist/simulator/container-entrypoint.js" ]] || die "dist/simulator/container-entrypoint.js was not built"

step "node binary and its shared libraries"
node_bin="$(readlink -f "$(command -v node)")"
install -D -m 0755 "$node_bin" "$ROOTFS/usr/local/bin/node"
# ldd lists "name => /path (addr)" for libraries and "/path (addr)" for the dynamic loader.
ldd "$node_bin" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }' | while read -r lib; do
  install -D -m 0755 "$(readlink -f "$lib")" "$ROOTFS$lib"
  echo "    $lib"
done

step "Minimal /etc, /tmp and the ibgateway home"
# Jts is the settings directory; the simulator keeps its broker state there (SIM_STATE_FILE).
mkdir -p "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/home/ibgateway/Jts"
chmod 1777 "$ROOTFS/tmp"
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
ibgateway:x:1000:1000:IB Gateway:/home/ibgateway:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
ibgateway:x:1000:
nogroup:x:65534:
EOF
cat >"$ROOTFS/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
cat >"$ROOTFS/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
if [[ "$(id -u)" == 0 ]]; then
  chown -R 1000:1000 "$ROOTFS/home/ibgateway"
fi

# The container runs as uid 1000 and writes under its home, so the home must be uid 1000's in the image. As
# root the files carry their owners already; without root they cannot be given owners here, so tar records
# root for everything but the home, which is appended as uid 1000.
rootfs_tar() {
  if [[ "$(id -u)" == 0 ]]; then
    tar -C "$ROOTFS" --numeric-owner -cf - .
    return
  fi
  local archive
  archive="$(mktemp)"
  tar -C "$ROOTFS" --owner=0 --group=0 --numeric-owner --exclude=./home/ibgateway -cf "$archive" .
  tar -C "$ROOTFS" --owner=1000 --group=1000 --numeric-owner -rf "$archive" ./home/ibgateway
  cat "$archive"
  rm -f "$archive"
}

step "Importing $TAG"
content_hash="$(
  cd "$ROOTFS"
  {
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    # Directories and their owners count too: a new writable directory must reach the image.
    find . -type d -printf '%m %U:%G %p\n' | LC_ALL=C sort
  } | sha256sum | cut -d' ' -f1
)"
existing_hash="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$TAG" 2>/dev/null || true)"
if [[ "$existing_hash" == "$content_hash" ]]; then
  echo "    $TAG already holds these files; nothing to import"
else
  rootfs_tar | docker import \
    --change 'ENTRYPOINT ["/usr/local/bin/node", "/app/dist/simulator/container-entrypoint.js"]' \
    --change 'USER 1000' \
    --change 'WORKDIR /app' \
    --change 'EXPOSE 4003 4004 5900 4010' \
    --change 'ENV HOME=/home/ibgateway' \
    --change 'ENV NODE_ENV=production' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'LABEL org.opencontainers.image.title="ib-gateway-simulator"' \
    --change 'LABEL org.opencontainers.image.description="IB Gateway simulator with the interface of gnzsnz/ib-gateway"' \
    --change "LABEL $HASH_LABEL=$content_hash" \
    - "$TAG" >/dev/null
fi
size="$(docker image inspect -f '{{ .Size }}' "$TAG")"
step "Built $TAG ($((size / 1024 / 1024)) MiB)"
