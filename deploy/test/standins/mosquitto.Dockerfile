# Test stand-in for eclipse-mosquitto:2.0.x (deploy/test/compose-up.sh): Debian's Mosquitto 2.0
# laid out like the official image: /mosquitto/{config,data,log} owned by the mosquitto user,
# mosquitto and mosquitto_passwd/_pub/_sub on PATH, an entrypoint that hands /mosquitto to
# that user when run as root, the broker dropping to it.
FROM @BASE@
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      mosquitto mosquitto-clients >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/sbin/mosquitto /usr/bin/mosquitto \
 && mkdir -p /mosquitto/config /mosquitto/data /mosquitto/log \
 && printf 'listener 1883\nallow_anonymous false\n' > /mosquitto/config/mosquitto.conf \
 && chown -R mosquitto:mosquitto /mosquitto
COPY mosquitto-entrypoint.sh /docker-entrypoint.sh
RUN chmod 755 /docker-entrypoint.sh
EXPOSE 1883
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
