#!/bin/sh
# Build Mosquitto's two password files (one per listener, see mosquitto.conf):
#   passwd           the meter listener: the meter accounts you manage in meters.passwd, and the
#                    read-only alerts account;
#   services.passwd  the service listener: the coopwatt service accounts.
# The service accounts' passwords come from the environment (.env).
#
# In docker compose this runs as the one-shot "mosquitto-auth" service before the broker
# starts, so `docker compose up` needs no manual step. By hand (or in tests):
#   OUTPUT=/path/passwd METERS_PASSWD=/path/meters.passwd MQTT_INGEST_PASSWORD=... sh make-passwd.sh
# (services.passwd goes next to OUTPUT unless SERVICES_OUTPUT names it).
# The files it writes hold salted hashes only (mosquitto_passwd), never a clear password.
#
# A meter account whose name could collide stops it (exit 2, naming the account and why): the
# same rules as the registry import (coopwatt/device_ids.py). On the meter listener the client id
# is the username, so a meter named like a service ("coopwatt-ingest-1") would take over that
# service's session; one named like a topic prefix or level ("tele", "alerts", "status") could
# write as another device or as an alert (the ACL denies those subtrees as well).
set -eu

OUTPUT="${OUTPUT:-/mosquitto/auth/passwd}"
SERVICES_OUTPUT="${SERVICES_OUTPUT:-$(dirname "$OUTPUT")/services.passwd}"
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

# Why a meter account name cannot be used (empty when it can); keep in step with coopwatt/device_ids.py.
meter_name_problem() {
    lower="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')"
    case "$lower" in
        coopwatt|tele|teleinfo|shellies|esphome|zigbee2mqtt|status|sensor|alerts|ingest)
            echo "it is reserved: a topic prefix or topic level of the broker's access control, so its meter could write as another device or as an alert" ;;
        coopwatt*)
            echo "it starts with 'coopwatt', which is kept for coopwatt's own services' accounts and client ids" ;;
        *[/+#]*)
            echo "it contains one of / + #, which are MQTT topic separators or wildcards" ;;
        \$*)
            echo "it starts with \$, which MQTT keeps for the broker's own topics (\$SYS)" ;;
    esac
}

out_dir="$(dirname "$OUTPUT")"
services_dir="$(dirname "$SERVICES_OUTPUT")"
mkdir -p "$out_dir" "$services_dir"
umask 077
tmp="$(mktemp "$out_dir/.passwd.XXXXXX")"
services_tmp="$(mktemp "$services_dir/.services.passwd.XXXXXX")"
trap 'rm -f "$tmp" "$services_tmp"' EXIT

if [ -f "$METERS_PASSWD" ]; then
    # Keep only well-formed "user:hash" lines.
    grep -E '^[^#:[:space:]][^:]*:\$' "$METERS_PASSWD" > "$tmp" || true
    refused=0
    while IFS=: read -r name _; do
        problem="$(meter_name_problem "$name")"
        if [ -n "$problem" ]; then
            echo "make-passwd: meter account '$name' in $METERS_PASSWD refused: $problem; rename the device (and its registry meter_source)" >&2
            refused=1
        fi
    done < "$tmp"
    [ "$refused" = 0 ] || fail "no password file written: fix the account(s) above"
    echo "make-passwd: $(wc -l < "$tmp" | tr -d ' ') meter account(s) from $METERS_PASSWD"
else
    echo "make-passwd: no $METERS_PASSWD yet: no meter account (see docs/operations.md, connecting meters)"
fi

add() {
    # mosquitto_passwd -b replaces an existing entry of the same name.
    mosquitto_passwd -b "$1" "$2" "$3" 2>/dev/null || fail "mosquitto_passwd failed for $2"
    echo "make-passwd: account $2 ($4 listener)"
}

add "$services_tmp" coopwatt-ingest "$MQTT_INGEST_PASSWORD" service
add "$services_tmp" coopwatt-analytics "$MQTT_ANALYTICS_PASSWORD" service
add "$services_tmp" coopwatt-dashboard "$MQTT_DASHBOARD_PASSWORD" service
[ -z "${MQTT_SIMULATOR_PASSWORD:-}" ] || add "$services_tmp" coopwatt-simulator "$MQTT_SIMULATOR_PASSWORD" service
# The alerts reader is a building manager's system outside coopwatt: it connects like a meter.
[ -z "${MQTT_ALERTS_PASSWORD:-}" ] || add "$tmp" coopwatt-alerts "$MQTT_ALERTS_PASSWORD" meter

# The broker reads the files as its own unprivileged user.
for file in "$tmp" "$services_tmp"; do
    if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
        chown mosquitto:mosquitto "$file"
    fi
    chmod 0600 "$file"
done
mv "$tmp" "$OUTPUT"
mv "$services_tmp" "$SERVICES_OUTPUT"
trap - EXIT
echo "make-passwd: wrote $OUTPUT (meter listener) and $SERVICES_OUTPUT (service listener)"
