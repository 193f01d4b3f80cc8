#!/usr/bin/env bash
# The compose test's engine and images (tests/test_compose_stack.py runs it; usable by hand).
#
#   deploy/test/compose-up.sh engine   install Debian's docker.io if missing, start dockerd if not running
#   deploy/test/compose-up.sh images   engine, then the stand-in images; prints the override file's path
#
# No image registry is reachable from CI, so every image is built here, from a Debian base made with
# debootstrap and `docker import`. Stand-ins for the images docker-compose.yml names:
#   timescale/timescaledb   -> PostgreSQL 15.18 (bookworm main) + TimescaleDB 2.28.3 built from the
#                              vendored source archive (shared/vendor/timescaledb/README.md: the last
#                              minor version on which TimescaleDB's background jobs succeed)
#   eclipse-mosquitto       -> Debian's Mosquitto laid out like the official image (/mosquitto/...)
#   python:3.12-slim-...    -> Debian's Python 3.11 with uv's needs, and the host's CA bundle so that
#                              the build reaches PyPI through this network (test base only: the
#                              production Dockerfile never sees it)
# Each image is tagged with a hash of what it is built from, so a second run on the same machine
# reuses it (docker's own layer cache does the same for coopwatt's image).
# Needs root (apt-get, dockerd, debootstrap).
set -euo pipefail

SCRIPT_VERSION=1   # bump when what the images hold changes without their inputs changing
SUITE=bookworm
TSDB_VERSION=2.28.3
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mirror="${COOPWATT_TEST_MIRROR:-http://deb.debian.org/debian}"
state="${COOPWATT_TEST_STATE:-/var/cache/coopwatt/compose-test}"

log() { echo "[compose-up] $*" >&2; }
die() { echo "[compose-up] error: $*" >&2; exit 1; }

ensure_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  [[ "$(id -u)" == 0 ]] || die "starting the Docker engine needs root"
  if ! command -v dockerd >/dev/null; then
    log "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq docker.io >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; } \
      || die "apt-get install docker.io failed"
  fi
  if ! pgrep -x dockerd >/dev/null; then
    mkdir -p "$state"
    log "starting dockerd (log: $state/dockerd.log)"
    # The MTU of this network's interface; docker's default of 1500 stalls large downloads in builds.
    setsid dockerd --mtu "${COOPWATT_TEST_MTU:-1400}" >"$state/dockerd.log" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  die "dockerd did not answer within 60 s, see $state/dockerd.log"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

key_of() { cat "$@" | sha256sum | cut -c1-12; }

base_image() {  # debootstrap minbase, imported as an image
  local tag="coopwatt-test/debian:$SUITE-v$SCRIPT_VERSION"
  if ! has_image "$tag"; then
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    local dir; dir="$(mktemp -d /var/tmp/coopwatt-base.XXXXXX)"
    log "debootstrap $SUITE (minbase) into $dir"
    debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" >"$state/debootstrap.log" 2>&1 \
      || { rm -rf --one-file-system "$dir"; die "debootstrap failed, see $state/debootstrap.log"; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | docker import -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
    rm -rf --one-file-system "$dir"
  fi
  echo "$tag"
}

build_standin() {  # name, context dir: tag = hash of the context
  local name="$1" context="$2" key tag
  key="$(cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
  tag="coopwatt-test/$name:$key"
  if ! has_image "$tag"; then
    log "building $tag"
    DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$context" >"$state/build-$name.log" 2>&1 \
      || die "building $name failed, see $state/build-$name.log"
  fi
  echo "$tag"
}

find_tsdb_source() {
  if [[ -n "${COOPWATT_TSDB_SOURCE:-}" ]]; then echo "$COOPWATT_TSDB_SOURCE"; return; fi
  local dir="$repo"
  while [[ "$dir" != "/" ]]; do
    dir="$(dirname "$dir")"
    local candidate="$dir/shared/vendor/timescaledb/timescaledb-$TSDB_VERSION.tar.gz"
    [[ -f "$candidate" ]] && { echo "$candidate"; return; }
  done
  die "timescaledb-$TSDB_VERSION.tar.gz not found in ../shared/vendor/timescaledb/ above $repo; set COOPWATT_TSDB_SOURCE"
}

images() {
  ensure_engine
  mkdir -p "$state"
  local base ctx
  base="$(base_image)"
  ctx="$state/ctx"; rm -rf "$ctx"; mkdir -p "$ctx"
  # Each context: the stand-in's Dockerfile (FROM the base by its content tag) and its files.
  mkdir -p "$ctx/python" "$ctx/mosquitto" "$ctx/timescaledb"
  sed "s|@BASE@|$base|" "$here/standins/python.Dockerfile" >"$ctx/python/Dockerfile"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/python/ca-certificates.crt"
  sed "s|@BASE@|$base|" "$here/standins/mosquitto.Dockerfile" >"$ctx/mosquitto/Dockerfile"
  cp "$here/standins/mosquitto-entrypoint.sh" "$ctx/mosquitto/"
  sed "s|@BASE@|$base|" "$here/standins/timescaledb.Dockerfile" >"$ctx/timescaledb/Dockerfile"
  cp "$here/standins/timescaledb-entrypoint.sh" "$ctx/timescaledb/"
  cp "$(find_tsdb_source)" "$ctx/timescaledb/timescaledb.tar.gz"
  local python mosquitto timescaledb
  python="$(build_standin python "$ctx/python")"
  mosquitto="$(build_standin mosquitto "$ctx/mosquitto")"
  timescaledb="$(build_standin timescaledb "$ctx/timescaledb")"
  rm -rf "$ctx"
  # The override swaps image names only (and the base the one coopwatt build starts from).
  cat >"$state/override.yml" <<YAML
services:
  timescaledb: {image: "$timescaledb"}
  mosquitto-auth: {image: "$mosquitto"}
  mosquitto: {image: "$mosquitto"}
  migrate:
    build: {args: {PYTHON_IMAGE: "$python"}}
YAML
  echo "$state/override.yml"
}

case "${1:-images}" in
  engine) ensure_engine ;;
  images) images ;;
  *) die "usage: $0 [engine|images]" ;;
esac
