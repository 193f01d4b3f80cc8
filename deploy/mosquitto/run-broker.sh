#!/bin/sh
# The "mosquitto" service's entrypoint: run the broker, and make it reload (SIGHUP) whenever its
# password files or the ACL change, so that a rotated service password or a new meter account
# takes effect without anyone signalling the broker. mosquitto-auth rewrites the password files
# (an atomic rename) each time it runs, and `docker compose up -d` re-runs it whenever a
# password in .env changes; without the reload the broker kept the old passwords in memory and
# the recreated services got "Not authorized" (issue 14). SIGHUP reloads the password and ACL
# files and keeps every connection and session.
#
#   run-broker.sh mosquitto -c /etc/coopwatt-mosquitto/mosquitto.conf
#
# WATCH_FILES (space-separated) and WATCH_INTERVAL_S override what is watched and how often
# (tests/test_broker_reload.py runs this script against a local Mosquitto).
set -eu

WATCH_FILES="${WATCH_FILES:-/mosquitto/auth/passwd /mosquitto/auth/services.passwd /etc/coopwatt-mosquitto/acl}"
WATCH_INTERVAL_S="${WATCH_INTERVAL_S:-2}"

[ "$#" -gt 0 ] || { echo "run-broker: usage: run-broker.sh mosquitto -c CONFIG" >&2; exit 2; }

# The official image's entrypoint gives /mosquitto (volumes included) to the broker's user.
if [ -x /docker-entrypoint.sh ]; then
    /docker-entrypoint.sh true
fi

fingerprint() {
    # shellcheck disable=SC2086  # a list of paths, split on purpose
    cat $WATCH_FILES 2>/dev/null | cksum
}

"$@" &
broker=$!
# Stop requests go to the broker; this loop ends when it has exited.
trap 'kill -TERM "$broker" 2>/dev/null || true' TERM INT
last="$(fingerprint)"
while kill -0 "$broker" 2>/dev/null; do
    sleep "$WATCH_INTERVAL_S" &
    wait "$!" || true
    now="$(fingerprint)"
    if [ "$now" != "$last" ]; then
        echo "run-broker: password or ACL file changed: reloading the broker (SIGHUP)"
        kill -HUP "$broker" 2>/dev/null || true
        last="$now"
    fi
done
status=0
wait "$broker" || status=$?
exit "$status"
