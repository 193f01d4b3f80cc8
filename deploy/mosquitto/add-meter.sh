#!/bin/sh
# Give a meter an MQTT account (or a new password), in deploy/mosquitto/meters.passwd:
#
#   deploy/mosquitto/add-meter.sh DEVICE_ID [PASSWORD]    # a random password is made and shown once
#   docker compose up -d                                  # mosquitto-auth rebuilds, the broker reloads
#
# The file holds salted hashes only, and stays readable by its owner only (0600): a hash is an
# offline guessing target. The hash is made by mosquitto_passwd, the host's if installed
# (Debian: apt-get install mosquitto), else the one in the mosquitto-auth service's image.
# METERS_PASSWD names another file (tests).
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
METERS_PASSWD="${METERS_PASSWD:-$here/meters.passwd}"

[ "$#" -ge 1 ] && [ "$#" -le 2 ] || { echo "usage: $0 DEVICE_ID [PASSWORD]" >&2; exit 2; }
name="$1"
case "$name" in
    ""|*:*|*" "*) echo "add-meter: '$name' cannot be an account name (empty, ':' or a space)" >&2; exit 2 ;;
esac
if [ "$#" -eq 2 ]; then
    password="$2"
else
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
fi

# Created private, and made private if an older step left it readable by everyone.
umask 077
[ -e "$METERS_PASSWD" ] || : > "$METERS_PASSWD"
chmod 600 "$METERS_PASSWD"

if command -v mosquitto_passwd >/dev/null 2>&1; then
    mosquitto_passwd -b "$METERS_PASSWD" "$name" "$password"
else
    dir="$(cd "$(dirname "$METERS_PASSWD")" && pwd)"
    (cd "$here/../.." && docker compose run --rm --no-deps -v "$dir:/m" --entrypoint mosquitto_passwd \
        mosquitto-auth -b "/m/$(basename "$METERS_PASSWD")" "$name" "$password")
fi
# mosquitto_passwd rewrites the file; keep it private whatever it did.
chmod 600 "$METERS_PASSWD"

if [ "$#" -eq 1 ]; then
    echo "add-meter: account $name, password $password (shown once: configure the device now)"
else
    echo "add-meter: account $name"
fi
echo "add-meter: next: docker compose up -d   (rebuilds the broker's password file; the broker reloads it)"
