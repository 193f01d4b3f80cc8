-- Analytics results the dashboard reads, the run log, alerts and their notification outbox.
-- The same in both storage modes. Written only by `coopwatt analytics`; the dashboard
-- writes only user actions (0004).

-- One row per job run: what ran, how it went.
CREATE TABLE analytics_run (
    id                  bigserial PRIMARY KEY,
    job                 text NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    status              text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    dwellings_processed integer NOT NULL DEFAULT 0,
    failures            integer NOT NULL DEFAULT 0,
    detail              jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX analytics_run_job_idx ON analytics_run (job, started_at DESC);

-- A dwelling (or meter) a run could not process, and why; one failure never stops a run.
CREATE TABLE analytics_failure (
    run_id      bigint NOT NULL REFERENCES analytics_run ON DELETE CASCADE,
    dwelling_id integer REFERENCES dwelling ON DELETE CASCADE,
    meter_id    integer REFERENCES meter ON DELETE CASCADE,
    reason      text NOT NULL
);
CREATE INDEX analytics_failure_run_idx ON analytics_failure (run_id);

-- The latest baseline per dwelling and energy kind. An unqualified dwelling has
-- qualified = false and its sufficiency reasons (code, text fr/en, evidence), no model.
CREATE TABLE baseline (
    dwelling_id                integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    energy_kind                text NOT NULL CHECK (energy_kind IN ('electricity', 'gas', 'heat', 'water')),
    fitted_at                  timestamptz NOT NULL DEFAULT now(),
    period_start               date NOT NULL,
    period_end                 date NOT NULL,
    qualified                  boolean NOT NULL,
    reasons                    jsonb NOT NULL DEFAULT '[]',
    params                     jsonb,
    cv_rmse                    double precision,
    nmbe                       double precision,
    base_kwh_per_day           double precision,
    heating_kwh_per_degree_day double precision,
    heating_balance_point_c    double precision,
    normalised_kwh_per_year    double precision,
    PRIMARY KEY (dwelling_id, energy_kind)
);

-- Anomaly alerts: one open alert per kind and meter (partial unique index); it resolves
-- itself when the condition clears. Acknowledging stops reminders.
CREATE TABLE alert (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('above_baseline', 'base_load_rise', 'water_leak', 'meter_silent',
                                                  'frozen_index', 'counter_reset', 'spike')),
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    meter_id        integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    dwelling_id     integer REFERENCES dwelling ON DELETE CASCADE,
    building_id     integer REFERENCES building ON DELETE CASCADE,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_at     timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by integer,
    evidence        jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX alert_one_open_idx ON alert (meter_id, kind) WHERE status = 'open';
CREATE INDEX alert_building_idx ON alert (building_id, status, detected_at DESC);
CREATE INDEX alert_dwelling_idx ON alert (dwelling_id, status, detected_at DESC);

-- Who hears about a building's alerts, and how.
CREATE TABLE alert_recipient (
    id          serial PRIMARY KEY,
    building_id integer NOT NULL REFERENCES building ON DELETE CASCADE,
    channel     text NOT NULL CHECK (channel IN ('email', 'webhook')),
    target      text NOT NULL,
    language    text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    UNIQUE (building_id, channel, target)
);

-- Notification outbox: each (alert, event, channel, target) is sent once; failures are
-- retried with back-off. The MQTT alert topic is a channel too (target = topic).
CREATE TABLE alert_notification (
    alert_id        bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook', 'mqtt')),
    target          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text,
    PRIMARY KEY (alert_id, event, channel, target)
);
CREATE INDEX alert_notification_due_idx ON alert_notification (next_attempt_at) WHERE sent_at IS NULL;

-- Savings suggestions per dwelling, most valuable first when read.
CREATE TABLE suggestion (
    dwelling_id         integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    kind                text NOT NULL,
    energy_kwh_per_year double precision NOT NULL,
    cost_eur_per_year   double precision NOT NULL,
    evidence            jsonb NOT NULL DEFAULT '{}',
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dwelling_id, kind)
);

-- Neighbourhood comparison groups per period. Only published groups (>= k dwellings)
-- carry figures; the membership is kept so a later publication never differs from an
-- earlier one by a single household.
CREATE TABLE comparison_group (
    group_key             text NOT NULL,
    energy_kind           text NOT NULL,
    period_start          date NOT NULL,
    period_end            date NOT NULL,
    description           jsonb NOT NULL DEFAULT '{}',
    member_count          integer NOT NULL,
    published             boolean NOT NULL,
    withheld_reason       text,
    average_kwh           double precision,
    average_kwh_per_m2    double precision,
    efficient_kwh         double precision,
    efficient_kwh_per_m2  double precision,
    efficient_home_count  integer,
    computed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_key, energy_kind, period_start, period_end),
    CHECK (NOT published OR average_kwh IS NOT NULL)
);

CREATE TABLE comparison_member (
    group_key        text NOT NULL,
    energy_kind      text NOT NULL,
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    dwelling_id      integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    energy_kwh       double precision NOT NULL,
    energy_kwh_per_m2 double precision NOT NULL,
    percentile       double precision,
    PRIMARY KEY (group_key, energy_kind, period_start, period_end, dwelling_id),
    FOREIGN KEY (group_key, energy_kind, period_start, period_end)
        REFERENCES comparison_group ON DELETE CASCADE
);
CREATE INDEX comparison_member_dwelling_idx ON comparison_member (dwelling_id, energy_kind, period_end DESC);

-- High consumers for advisers: weather-normalised use per m² against similar homes.
CREATE TABLE high_consumer (
    dwelling_id              integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    energy_kind              text NOT NULL,
    computed_at              timestamptz NOT NULL DEFAULT now(),
    normalised_kwh_per_m2    double precision NOT NULL,
    group_median_kwh_per_m2  double precision,
    ratio_to_group           double precision,
    rank                     integer NOT NULL,
    reasons                  jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (dwelling_id, energy_kind)
);

-- Renovations and other interventions, and the weather-normalised savings after them.
CREATE TABLE intervention (
    id          serial PRIMARY KEY,
    building_id integer REFERENCES building ON DELETE CASCADE,
    dwelling_id integer REFERENCES dwelling ON DELETE CASCADE,
    day         date NOT NULL,
    description text NOT NULL,
    CHECK (building_id IS NOT NULL OR dwelling_id IS NOT NULL)
);

CREATE TABLE savings_result (
    intervention_id   integer NOT NULL REFERENCES intervention ON DELETE CASCADE,
    energy_kind       text NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    reporting_days    integer NOT NULL,
    avoided_kwh       double precision NOT NULL,
    avoided_fraction  double precision NOT NULL,
    band_kwh          double precision NOT NULL,
    confidence        double precision NOT NULL,
    detail            jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (intervention_id, energy_kind)
);
