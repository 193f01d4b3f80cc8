-- Hours whose consumption cannot be believed: a frozen index (the counter repeats while energy
-- is used), a counter reset, a spike. Written by the anomaly job from the alerts of those kinds
-- (analytics.job.suspect), never by hand, in both storage modes. A plain table beside
-- consumption_hourly, not a column of it: the derivation rewrites hourly rows, and the
-- TimescaleDB continuous aggregate over consumption_hourly is left as it is.
CREATE TABLE consumption_suspect (
    meter_id integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    hour     timestamptz NOT NULL,
    alert_id bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
    kind     text NOT NULL,  -- the alert's kind: frozen_index, counter_reset, spike
    PRIMARY KEY (meter_id, hour)
);

-- consumption_daily_all (0010) carries the count of suspect hours of each meter's day, as it
-- carries the estimated ones; the analytics and the dashboard leave such days out of baselines,
-- comparisons and rankings, and show them as suspect.
CREATE OR REPLACE VIEW consumption_daily_all AS
SELECT cd.meter_id, cd.day, cd.energy_kwh, cd.volume_m3, cd.estimated_hours, cd.hours, true AS from_hourly,
       (SELECT count(*) FROM consumption_suspect s
         WHERE s.meter_id = cd.meter_id AND s.hour >= cd.day
           AND s.hour < (((cd.day AT TIME ZONE {{timezone}})::date + 1)::timestamp AT TIME ZONE {{timezone}})
       ) AS suspect_hours
  FROM consumption_daily cd
 WHERE cd.hours >= 22
    OR NOT EXISTS (SELECT 1 FROM consumption_day x WHERE x.meter_id = cd.meter_id AND x.day = cd.day)
UNION ALL
SELECT x.meter_id, x.day, x.energy_kwh, x.volume_m3,
       CASE WHEN x.estimated THEN h.hours ELSE 0 END, h.hours, false,
       (SELECT count(*) FROM consumption_suspect s
         WHERE s.meter_id = x.meter_id AND s.hour >= x.day
           AND s.hour < (((x.day AT TIME ZONE {{timezone}})::date + 1)::timestamp AT TIME ZONE {{timezone}}))
  FROM consumption_day x
 CROSS JOIN LATERAL (
       SELECT round(extract(epoch FROM
                  ((((x.day AT TIME ZONE {{timezone}})::date + 1)::timestamp AT TIME ZONE {{timezone}}) - x.day))
                  / 3600)::bigint AS hours) h
 WHERE NOT EXISTS (SELECT 1 FROM consumption_daily cd
                    WHERE cd.meter_id = x.meter_id AND cd.day = x.day AND cd.hours >= 22);
