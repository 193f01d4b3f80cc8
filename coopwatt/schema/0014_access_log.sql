-- Who among the staff (adviser, manager, admin) looked at which household's data, when, and what
-- (issue 19): the household reads its own list on its page, the data-protection officer exports it
-- (coopwatt privacy), and the maintenance step deletes entries older than the access log's retention.
-- A plain table in both storage modes: a few rows per staff page view, nothing a hypertable would help.

CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    accessed_at timestamptz NOT NULL DEFAULT now(),
    -- Kept after the staff account is gone (username and role copied), like erasure_request.
    account_id  integer REFERENCES account ON DELETE SET NULL,
    username    text NOT NULL,
    role        text NOT NULL CHECK (role IN ('adviser', 'manager', 'admin')),
    -- The household's log goes with its dwelling.
    dwelling_id integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    -- What was opened: household_page, adviser_drilldown, alert_detail, csv_readings, csv_daily, ...
    -- (coopwatt/access_log.py lists them); free text here so that a new kind needs no migration.
    what        text NOT NULL CHECK (what ~ '^[a-z_]{1,40}$'),
    -- Details of the access: the curve's days and kinds, a download's range, the alerts shown.
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- The household's list and the repeat check (same account, dwelling and kind within a few minutes).
CREATE INDEX access_log_dwelling_idx ON access_log (dwelling_id, accessed_at DESC);
-- Retention deletes by age.
CREATE INDEX access_log_accessed_idx ON access_log (accessed_at);
