-- Plain PostgreSQL: rollups are ordinary tables that the application refreshes
-- (coopwatt.rollups). Same names and columns as the TimescaleDB continuous aggregates.

CREATE TABLE reading_hourly (
    meter_id    integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    quantity_id smallint NOT NULL,
    bucket      timestamptz NOT NULL,
    value_min   double precision NOT NULL,
    value_max   double precision NOT NULL,
    value_avg   double precision NOT NULL,
    value_first double precision NOT NULL,
    value_last  double precision NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (meter_id, quantity_id, bucket)
);

-- Days are local days ({{timezone}}): a bucket is local midnight.
CREATE TABLE reading_daily (LIKE reading_hourly INCLUDING ALL);
ALTER TABLE reading_daily ADD FOREIGN KEY (meter_id) REFERENCES meter ON DELETE CASCADE;

CREATE TABLE consumption_daily (
    meter_id        integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    day             timestamptz NOT NULL,
    energy_kwh      double precision,
    volume_m3       double precision,
    estimated_hours bigint NOT NULL,
    hours           bigint NOT NULL,
    PRIMARY KEY (meter_id, day)
);

-- Time-first indexes for the refresh window and retention.
CREATE INDEX reading_time_idx ON reading (time);
CREATE INDEX consumption_hourly_hour_idx ON consumption_hourly (hour);
