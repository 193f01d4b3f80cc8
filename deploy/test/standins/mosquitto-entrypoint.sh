#!/bin/sh
# As the official image's: when started as root, give /mosquitto (volumes included) to the
# broker's user, then run the command.
set -e
if [ "$(id -u)" = 0 ] && [ -d /mosquitto ]; then
    chown -R mosquitto:mosquitto /mosquitto 2>/dev/null || true
fi
exec "$@"
