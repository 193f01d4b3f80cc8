-- TimescaleDB: hypertables and continuous aggregates. Compression, retention and
-- refresh policies whose values come from settings are applied by coopwatt.policies
-- after every migrate, so changing a setting and re-running migrate takes effect.
-- Continuous aggregates are created WITH NO DATA so this file can run in one transaction.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('reading', by_range('time', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('consumption_hourly', by_range('hour', INTERVAL '30 days'), migrate_data => true);
SELECT create_hypertable('outdoor_temperature', by_range('time', INTERVAL '90 days'), migrate_data => true);

-- Segment by meter so that one dwelling's history is contiguous once compressed
-- (rows arrive time-first and would otherwise sit on thousands of pages).
ALTER TABLE reading SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id, quantity_id',
    timescaledb.compress_orderby = 'time DESC'
);
ALTER TABLE consumption_hourly SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id',
    timescaledb.compress_orderby = 'hour DESC'
);

CREATE MATERIALIZED VIEW reading_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id,
       quantity_id,
       time_bucket(INTERVAL '1 hour', time) AS bucket,
       min(value) AS value_min,
       max(value) AS value_max,
       avg(value) AS value_avg,
       first(value, time) AS value_first,
       last(value, time) AS value_last,
       count(*) AS n
FROM reading
GROUP BY meter_id, quantity_id, bucket
WITH NO DATA;

CREATE MATERIALIZED VIEW reading_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id,
       quantity_id,
       time_bucket(INTERVAL '1 day', time, {{timezone}}) AS bucket,
       min(value) AS value_min,
       max(value) AS value_max,
       avg(value) AS value_avg,
       first(value, time) AS value_first,
       last(value, time) AS value_last,
       count(*) AS n
FROM reading
GROUP BY meter_id, quantity_id, bucket
WITH NO DATA;

CREATE MATERIALIZED VIEW consumption_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id,
       time_bucket(INTERVAL '1 day', hour, {{timezone}}) AS day,
       sum(energy_kwh) AS energy_kwh,
       sum(volume_m3) AS volume_m3,
       sum(CASE WHEN estimated THEN 1 ELSE 0 END) AS estimated_hours,
       count(*) AS hours
FROM consumption_hourly
GROUP BY meter_id, day
WITH NO DATA;

SELECT add_continuous_aggregate_policy('reading_hourly',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('reading_daily',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
SELECT add_continuous_aggregate_policy('consumption_daily',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
