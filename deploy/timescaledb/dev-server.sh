#!/usr/bin/env bash
# A TimescaleDB server for development and CI, beside (never instead of) the machine's PostgreSQL.
#
#   deploy/timescaledb/dev-server.sh [start|stop|status|url] [CLUSTER...]
#
# It builds, once per machine, a Debian bookworm chroot (debootstrap --variant=minbase) holding
# PostgreSQL 15.18 from bookworm main (the last minor release on which TimescaleDB's background
# jobs succeed; see shared/vendor/timescaledb/README.md) and TimescaleDB 2.28.3 compiled from the
# vendored, unmodified source archive. The chroot shares the host's network, so each cluster
# started inside answers on 127.0.0.1 on its own port. Re-running is cheap: it only checks that
# the clusters are up and starts those that stopped.
#
# Clusters (all trust auth on loopback, user postgres):
#   main         port 5433  TimescaleDB preloaded, background jobs on    (what production runs)
#   nopreload    port 5434  package installed, NOT in shared_preload_libraries (a fresh package install)
#   apache       port 5435  preloaded with timescaledb.license=apache   (the Apache-only edition, simulated)
#   debian       port 5436  Debian trixie's own packages, as an operator installs them: PostgreSQL 17 and
#                           postgresql-17-timescaledb (the Apache-only edition Debian ships), preloaded;
#                           its chroot is a second one, built from the archive only (nothing compiled)
# With no CLUSTER argument: main only. `url CLUSTER` prints its admin URL.
#
# Environment:
#   COOPWATT_TSDB_SOURCE  the timescaledb-2.28.3.tar.gz archive (default: shared/vendor/timescaledb/
#                         found in the repository's parent folders, as CI lays it beside the clone)
#   COOPWATT_TSDB_CACHE   where the chroot lives (default /var/cache/coopwatt/timescaledb); the
#                         chroot is keyed by the archive's sha256 and SCRIPT_VERSION below
#   COOPWATT_TSDB_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#   COOPWATT_TSDB_PORT    the main cluster's port (default 5433; nopreload +1, apache +2, debian +3)
# Needs root (chroot, mount). Data in the clusters is disposable: fsync is off.
set -euo pipefail

SCRIPT_VERSION=1  # bump when the chroot's contents or the build change, so caches are rebuilt
PG_MAJOR=15
PG_VERSION=15.18-0+deb12u1
TSDB_VERSION=2.28.3
DEBIAN_PG_MAJOR=17  # trixie's PostgreSQL, for the `debian` cluster

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

log() { echo "[tsdb-dev] $*" >&2; }
die() { echo "[tsdb-dev] error: $*" >&2; exit 1; }

find_source() {
  if [[ -n "${COOPWATT_TSDB_SOURCE:-}" ]]; then
    [[ -f "$COOPWATT_TSDB_SOURCE" ]] || die "COOPWATT_TSDB_SOURCE=$COOPWATT_TSDB_SOURCE is not a file"
    echo "$COOPWATT_TSDB_SOURCE"; return
  fi
  local dir="$repo"
  while [[ "$dir" != "/" ]]; do
    dir="$(dirname "$dir")"
    local candidate="$dir/shared/vendor/timescaledb/timescaledb-$TSDB_VERSION.tar.gz"
    if [[ -f "$candidate" ]]; then echo "$candidate"; return; fi
  done
  die "timescaledb-$TSDB_VERSION.tar.gz not found in ../shared/vendor/timescaledb/ above $repo; set COOPWATT_TSDB_SOURCE"
}

cluster_port() {
  local base="${COOPWATT_TSDB_PORT:-5433}"
  case "$1" in
    main) echo "$base" ;;
    nopreload) echo $((base + 1)) ;;
    apache) echo $((base + 2)) ;;
    debian) echo $((base + 3)) ;;
    *) die "unknown cluster '$1' (main, nopreload, apache, debian)" ;;
  esac
}

cluster_conf() {  # the settings that make each cluster what it stands for
  local port; port="$(cluster_port "$1")"
  cat <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '/var/run/postgresql'
max_connections = 200
shared_buffers = 128MB
# Disposable test data: durability buys nothing here and costs the shared disk.
fsync = off
synchronous_commit = off
full_page_writes = off
timescaledb.telemetry_level = off
# TimescaleDB's policy jobs each need a background worker beside parallel query workers:
# the default max_worker_processes of 8 is too few (jobs fail to launch). Each database with the
# extension holds one worker for its scheduler and one per running job: three test workers, each
# with its databases' freshly added policies all due at once, ran past 16 (a new database's
# scheduler was then refused and its jobs never ran).
max_worker_processes = 80
timescaledb.max_background_workers = 64
max_parallel_workers = 4
log_min_messages = warning
EOF
  case "$1" in
    main) echo "shared_preload_libraries = 'timescaledb'" ;;
    nopreload) echo "shared_preload_libraries = ''" ;;
    apache) printf "%s\n" "shared_preload_libraries = 'timescaledb'" "timescaledb.license = 'apache'" ;;
    # What the package's README tells an operator to add; the licence is left at the package's default.
    debian) echo "shared_preload_libraries = 'timescaledb'" ;;
  esac
}

source_archive="$(find_source)"
sha="$(sha256sum "$source_archive" | cut -c1-16)"
cache="${COOPWATT_TSDB_CACHE:-/var/cache/coopwatt/timescaledb}"
built_root="$cache/bookworm-pg$PG_MAJOR-tsdb$TSDB_VERSION-$sha-v$SCRIPT_VERSION"
debian_root="$cache/trixie-pg$DEBIAN_PG_MAJOR-debian-timescaledb-v$SCRIPT_VERSION"
root="$built_root"  # the chroot in_root and pg_bin act on; use_cluster switches it
pg_major="$PG_MAJOR"
mirror="${COOPWATT_TSDB_MIRROR:-http://deb.debian.org/debian}"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

mount_root() {
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/dev" || mount --rbind /dev "$root/dev"
}

bootstrap_chroot() {  # SUITE DIR LOG: a minimal Debian tree in DIR (a half-made one is started again)
  local suite="$1" tmp="$2" logfile="$3"
  [[ "$(id -u)" == 0 ]] || die "building the chroot needs root"
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  }
  if [[ -d "$tmp" ]]; then  # a build that died half-way: start that one again
    umount -R "$tmp/dev" 2>/dev/null || true; umount "$tmp/proc" 2>/dev/null || true
    rm -rf --one-file-system "$tmp"
  fi
  mkdir -p "$cache"
  log "debootstrap $suite into $tmp"
  debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$logfile" 2>&1 || die "debootstrap failed, see $logfile"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  # No service starts at install time, and no default cluster: the clusters are ours.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"; chmod +x "$tmp/usr/sbin/policy-rc.d"
  mkdir -p "$tmp/etc/postgresql-common"
  echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.conf"
}

build_root() {
  local tmp="$root.partial"
  bootstrap_chroot bookworm "$tmp" "$cache/debootstrap.log"
  local old_root="$root"; root="$tmp"
  mount_root
  log "installing PostgreSQL $PG_VERSION and the build tools"
  {
    in_root apt-get update -qq
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "postgresql-$PG_MAJOR=$PG_VERSION" "postgresql-client-$PG_MAJOR=$PG_VERSION" \
      "postgresql-server-dev-$PG_MAJOR=$PG_VERSION" \
      cmake gcc make libc6-dev libssl-dev libkrb5-dev
  } >"$cache/apt.log" 2>&1 || die "apt-get in the chroot failed, see $cache/apt.log"
  log "building TimescaleDB $TSDB_VERSION from $source_archive"
  mkdir -p "$tmp/build"
  tar -xzf "$source_archive" -C "$tmp/build"
  local src; src="$(cd "$tmp/build" && ls -d */ | head -n1)"
  {
    in_root sh -c "cd /build/$src && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
      -DPG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config && cd build && make -j2 && make install"
  } >"$cache/build.log" 2>&1 || die "the TimescaleDB build failed, see $cache/build.log"
  rm -rf "$tmp/build"
  in_root apt-get clean
  umount -R "$tmp/dev"; umount "$tmp/proc"
  root="$old_root"
  mv "$tmp" "$root"
  log "chroot ready: $root"
}

build_debian_root() {  # trixie's own PostgreSQL and TimescaleDB packages, nothing built
  local tmp="$debian_root.partial"
  bootstrap_chroot trixie "$tmp" "$cache/debootstrap-trixie.log"
  local old_root="$root"; root="$tmp"
  mount_root
  log "installing Debian's postgresql-$DEBIAN_PG_MAJOR and postgresql-$DEBIAN_PG_MAJOR-timescaledb"
  {
    in_root apt-get update -qq
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "postgresql-$DEBIAN_PG_MAJOR" "postgresql-$DEBIAN_PG_MAJOR-timescaledb"
    in_root dpkg-query -W "postgresql-$DEBIAN_PG_MAJOR" "postgresql-$DEBIAN_PG_MAJOR-timescaledb"
    in_root apt-get clean
  } >"$cache/apt-trixie.log" 2>&1 || die "apt-get in the trixie chroot failed, see $cache/apt-trixie.log"
  umount -R "$tmp/dev"; umount "$tmp/proc"
  root="$old_root"
  mv "$tmp" "$debian_root"
  log "chroot ready: $debian_root ($(tail -n2 "$cache/apt-trixie.log" | tr '\n\t' '  '))"
}

use_cluster() {  # point in_root and pg_bin at the chroot this cluster runs in
  if [[ "$1" == debian ]]; then root="$debian_root"; pg_major="$DEBIAN_PG_MAJOR"
  else root="$built_root"; pg_major="$PG_MAJOR"; fi
}

ensure_root() {  # build the cluster's chroot once, then mount what the servers need
  use_cluster "$1"
  if [[ ! -d "$root" ]]; then
    if [[ "$1" == debian ]]; then build_debian_root; else build_root; fi
  fi
  mount_root
}

pg_bin() { echo "/usr/lib/postgresql/$pg_major/bin/$1"; }

cluster_up() {  # true when the cluster answers
  local port; port="$(cluster_port "$1")"
  in_root "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$port"
}

start_cluster() {
  local name="$1" port data
  port="$(cluster_port "$name")"
  data="/var/lib/coopwatt-tsdb/$name"
  if cluster_up "$name"; then
    # A setting changed above since it started (worker counts need a restart): apply it now, or a
    # machine whose cluster kept running would go on with the old ones.
    if cluster_conf "$name" | cmp -s - "$root$data/coopwatt.conf"; then log "$name: up on 127.0.0.1:$port"; return; fi
    log "$name: settings changed, restarting"
    stop_cluster "$name"
  fi
  if [[ ! -f "$root$data/PG_VERSION" ]]; then
    log "$name: initdb"
    mkdir -p "$root$data"
    in_root chown -R postgres:postgres /var/lib/coopwatt-tsdb
    in_root su postgres -s /bin/sh -c "$(pg_bin initdb) -D $data -U postgres -A trust -E UTF8 --locale=C.UTF-8" \
      >"$root$data.initdb.log" 2>&1 || die "initdb of $name failed, see $root$data.initdb.log"
  fi
  # Rewritten at each start, so a changed setting above reaches existing clusters.
  cluster_conf "$name" >"$root$data/coopwatt.conf"
  grep -q "include 'coopwatt.conf'" "$root$data/postgresql.conf" || echo "include 'coopwatt.conf'" >>"$root$data/postgresql.conf"
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >"$root$data/pg_hba.conf"
  in_root chown postgres:postgres "$data/coopwatt.conf" "$data/pg_hba.conf"
  mkdir -p "$root/var/run/postgresql"; in_root chown postgres:postgres /var/run/postgresql
  # A leftover pid file from a machine restart would stop pg_ctl; the server checks it is stale itself.
  in_root su postgres -s /bin/sh -c "$(pg_bin pg_ctl) -D $data -l $data.log -w -t 60 start" >/dev/null \
    || die "$name did not start, see $root$data.log"
  log "$name: started on 127.0.0.1:$port"
}

stop_cluster() {
  local data="/var/lib/coopwatt-tsdb/$1"
  [[ -f "$root$data/postmaster.pid" ]] || return 0
  in_root su postgres -s /bin/sh -c "$(pg_bin pg_ctl) -D $data -m fast -w stop" >/dev/null || true
  log "$1: stopped"
}

command="${1:-start}"; shift || true
clusters=("$@"); [[ ${#clusters[@]} -gt 0 ]] || clusters=(main)
for c in "${clusters[@]}"; do cluster_port "$c" >/dev/null; done

case "$command" in
  start)
    for c in "${clusters[@]}"; do ensure_root "$c"; start_cluster "$c"; done
    ;;
  stop)
    for c in "${clusters[@]}"; do use_cluster "$c"; [[ -d "$root" ]] && stop_cluster "$c"; done
    ;;
  status)
    rc=0
    for c in "${clusters[@]}"; do
      use_cluster "$c"
      if [[ ! -d "$root" ]]; then echo "$c: not built ($root)"; rc=1
      elif mountpoint -q "$root/proc" && cluster_up "$c"; then echo "$c: up on 127.0.0.1:$(cluster_port "$c")"
      else echo "$c: down"; rc=1; fi
    done
    exit $rc
    ;;
  url)
    echo "postgresql://postgres@127.0.0.1:$(cluster_port "${clusters[0]}")/postgres"
    ;;
  *) die "usage: $0 [start|stop|status|url] [main|nopreload|apache|debian ...]" ;;
esac
