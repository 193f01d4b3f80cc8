-- High-consumer rankings per period: advisers compare the last twelve months with the twelve
-- before. A period is the fitting window of the baselines the ranking is built on, local days
-- [period_start, period_end). Rows from before this migration get the year up to their computation,
-- in the cooperative's local days (a bare ::date would take the migrating session's time zone).
ALTER TABLE high_consumer ADD COLUMN period_start date, ADD COLUMN period_end date;
UPDATE high_consumer SET period_end = (computed_at AT TIME ZONE {{timezone}})::date,
    period_start = (computed_at AT TIME ZONE {{timezone}})::date - 365;
ALTER TABLE high_consumer ALTER COLUMN period_start SET NOT NULL, ALTER COLUMN period_end SET NOT NULL,
    ADD CHECK (period_start < period_end);
ALTER TABLE high_consumer DROP CONSTRAINT high_consumer_pkey,
    ADD PRIMARY KEY (dwelling_id, energy_kind, period_end);
CREATE INDEX high_consumer_period_idx ON high_consumer (period_end DESC, energy_kind, rank);
