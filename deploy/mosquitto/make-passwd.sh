#!/bin/sh
# Build Mosquitto's password file: the meter accounts you manage in meters.passwd plus the
# coopwatt service accounts, whose passwords come from the environment (.env).
#
# In docker compose this runs as the one-shot "mosquitto-auth" service before the broker
# starts, so `docker compose up` needs no manual step. By hand (or in tests):
#   OUTPUT=/path/passwd METERS_PASSWD=/path/meters.passwd MQTT_INGEST_PASSWORD=... sh make-passwd.sh
# The file it writes holds salted hashes only (mosquitto_passwd), never a clear password.
set -eu

OUTPUT="${OUTPUT:-/mosquitto/auth/passwd}"
METERS_PASSWD="${METERS_PASSWD:-/etc/coopwatt-mosquitto/meters.passwd}"

fail() {
    echo "make-passwd: $*" >&2
    exit 2
}

command -v mosquitto_passwd >/dev/null 2>&1 || fail "mosquitto_passwd not found (Debian: apt-get install mosquitto)"

# Required service accounts: name and the variable holding its password.
for pair in coopwatt-ingest:MQTT_INGEST_PASSWORD coopwatt-analytics:MQTT_ANALYTICS_PASSWORD \
            coopwatt-dashboard:MQTT_DASHBOARD_PASSWORD; do
    var="${pair#*:}"
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "$var is not set (expected a random password, e.g. openssl rand -hex 24; see .env.example)"
done

out_dir="$(dirname "$OUTPUT")"
mkdir -p "$out_dir"
umask 077
tmp="$(mktemp "$out_dir/.passwd.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

if [ -f "$METERS_PASSWD" ]; then
    # Keep only well-formed "user:hash" lines; a service account name there would be overwritten below.
    grep -E '^[^#:[:space:]][^:]*:\$' "$METERS_PASSWD" > "$tmp" || true
    echo "make-passwd: $(wc -l < "$tmp" | tr -d ' ') meter account(s) from $METERS_PASSWD"
else
    echo "make-passwd: no $METERS_PASSWD yet: service accounts only (see docs/operations.md, connecting meters)"
fi

add() {
    # mosquitto_passwd -b replaces an existing entry of the same name.
    mosquitto_passwd -b "$tmp" "$1" "$2" 2>/dev/null || fail "mosquitto_passwd failed for $1"
    echo "make-passwd: account $1"
}

add coopwatt-ingest "$MQTT_INGEST_PASSWORD"
add coopwatt-analytics "$MQTT_ANALYTICS_PASSWORD"
add coopwatt-dashboard "$MQTT_DASHBOARD_PASSWORD"
[ -z "${MQTT_SIMULATOR_PASSWORD:-}" ] || add coopwatt-simulator "$MQTT_SIMULATOR_PASSWORD"
[ -z "${MQTT_ALERTS_PASSWORD:-}" ] || add coopwatt-alerts "$MQTT_ALERTS_PASSWORD"

# The broker reads the file as its own unprivileged user.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown mosquitto:mosquitto "$tmp"
fi
chmod 0600 "$tmp"
mv "$tmp" "$OUTPUT"
trap - EXIT
echo "make-passwd: wrote $OUTPUT"
