-- Consumption known only per local day: utility exports (Enedis daily consumption and daily
-- indices, GRDF gas, a water utility's daily index). Most households have nothing finer.
-- A plain table in both storage modes, written by `coopwatt import`; never a rollup, so it
-- does not depend on consumption_hourly or on TimescaleDB's continuous aggregates.
-- estimated: the utility's figure was estimated (status E…), or the day got a share of an
-- index difference spanning several days.
CREATE TABLE consumption_day (
    meter_id    integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    day         timestamptz NOT NULL,  -- local midnight ({{timezone}}), as consumption_daily.day
    energy_kwh  double precision,
    volume_m3   double precision,
    estimated   boolean NOT NULL DEFAULT false,
    origin      text NOT NULL,  -- which export it came from: enedis, grdf, water (the import format)
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, day),
    CHECK (energy_kwh IS NOT NULL OR volume_m3 IS NOT NULL)
);
CREATE INDEX consumption_day_day_idx ON consumption_day (day);

-- Daily consumption as the analytics and the dashboard read it: the rollup of hourly
-- consumption, completed by daily-resolution figures. For one meter and day, a rollup day
-- covering at least 22 hours (the analytics' "complete day") wins; otherwise the daily figure
-- does, so a load curve imported for part of a day never hides the day's total, and a daily
-- total never doubles hours that were measured. A daily row counts as the whole local day
-- (23 or 25 hours at DST changes), all of them estimated when the figure is.
-- from_hourly says which: features that need hours (night base load, leaks, hour-of-week
-- profile, off-peak check) only have them when it is true.
CREATE VIEW consumption_daily_all AS
SELECT cd.meter_id, cd.day, cd.energy_kwh, cd.volume_m3, cd.estimated_hours, cd.hours, true AS from_hourly
  FROM consumption_daily cd
 WHERE cd.hours >= 22
    OR NOT EXISTS (SELECT 1 FROM consumption_day x WHERE x.meter_id = cd.meter_id AND x.day = cd.day)
UNION ALL
SELECT x.meter_id, x.day, x.energy_kwh, x.volume_m3,
       CASE WHEN x.estimated THEN h.hours ELSE 0 END, h.hours, false
  FROM consumption_day x
 CROSS JOIN LATERAL (
       SELECT round(extract(epoch FROM
                  ((((x.day AT TIME ZONE {{timezone}})::date + 1)::timestamp AT TIME ZONE {{timezone}}) - x.day))
                  / 3600)::bigint AS hours) h
 WHERE NOT EXISTS (SELECT 1 FROM consumption_daily cd
                    WHERE cd.meter_id = x.meter_id AND cd.day = x.day AND cd.hours >= 22);

-- Readings a utility marked as estimated rather than measured (Enedis status E, C, S…): they are
-- stored in reading like the others, and the hours they fall in are derived as estimated
-- (ingest.derive), so "estimated" reaches consumption_hourly and the daily rollups.
CREATE TABLE reading_estimated (
    meter_id    integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    quantity_id smallint NOT NULL REFERENCES quantity,
    time        timestamptz NOT NULL,
    PRIMARY KEY (meter_id, quantity_id, time)
);
