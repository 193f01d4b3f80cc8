# Test stand-in for timescale/timescaledb (deploy/test/compose-up.sh): PostgreSQL 15.18 from
# bookworm main and TimescaleDB 2.28.3 (full edition) built from the vendored, unmodified source
# archive: the last PostgreSQL minor version on which TimescaleDB's background jobs succeed
# (shared/vendor/timescaledb/README.md). Laid out like the official image: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB; data in /var/lib/postgresql/data; TimescaleDB preloaded and
# created in the new database at first start; psql, pg_dump, pg_restore, pg_isready on PATH.
FROM @BASE@
ENV PG_MAJOR=15 \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && mkdir -p /etc/postgresql-common \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql-15=15.18-0+deb12u1 postgresql-client-15=15.18-0+deb12u1 \
      postgresql-server-dev-15=15.18-0+deb12u1 \
      cmake gcc make libc6-dev libssl-dev libkrb5-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY timescaledb.tar.gz /tmp/timescaledb.tar.gz
RUN mkdir /tmp/build && tar -xzf /tmp/timescaledb.tar.gz -C /tmp/build \
 && cd /tmp/build/* \
 && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
      -DPG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null \
 && cd build && make -j2 >/dev/null && make install >/dev/null \
 && cd / && rm -rf /tmp/build /tmp/timescaledb.tar.gz \
 && mkdir -p /var/run/postgresql "$PGDATA" \
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql
COPY timescaledb-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
