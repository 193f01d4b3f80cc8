-- Advisers rank homes over the periods they think in (analytics/ranking_periods.py): the last twelve
-- months and the twelve before, the heating season so far, the last complete heating season and the last
-- calendar year. Two periods may end on the same day (the season so far and the last twelve months both
-- end today), so a period is its start and its end, and says what it is. Rows from before this migration
-- are the twelve-month periods: the latest end is the last twelve months, any earlier one the year before.
ALTER TABLE high_consumer ADD COLUMN period_kind text NOT NULL DEFAULT 'last_12_months'
    CHECK (period_kind IN ('last_12_months', 'previous_12_months', 'season_to_date', 'heating_season',
                           'calendar_year'));
UPDATE high_consumer SET period_kind = 'previous_12_months'
    WHERE period_end < (SELECT max(period_end) FROM high_consumer);
ALTER TABLE high_consumer DROP CONSTRAINT high_consumer_pkey,
    ADD PRIMARY KEY (dwelling_id, energy_kind, period_start, period_end);

-- Similar homes' typical day (analytics/peer_day.py): per group of similar homes (the comparisons'
-- partition) and energy kind, the mean use per local hour of the day over the window the household's
-- card shows, as the card rounds it. Published only for groups of at least k homes; an aggregate of k
-- or more homes, not one home's data (no retention of its own). Figures once published for a window
-- never change: the members are kept so a later run with other members withholds instead.
CREATE TABLE peer_day_profile (
    group_key       text NOT NULL,
    energy_kind     text NOT NULL CHECK (energy_kind IN ('electricity', 'gas', 'heat', 'water')),
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    description     jsonb NOT NULL DEFAULT '{}',
    member_count    integer NOT NULL CHECK (member_count > 0),
    published       boolean NOT NULL,
    withheld_reason text,
    mean_by_hour    double precision[],
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_key, energy_kind, period_start, period_end),
    CHECK (period_start < period_end),
    CHECK (published = (mean_by_hour IS NOT NULL) AND published = (withheld_reason IS NULL)),
    CHECK (mean_by_hour IS NULL OR cardinality(mean_by_hour) = 24)
);

-- Which home is in which group (never shown to anyone but the home itself: its own group).
CREATE TABLE peer_day_member (
    group_key    text NOT NULL,
    energy_kind  text NOT NULL,
    period_start date NOT NULL,
    period_end   date NOT NULL,
    dwelling_id  integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    PRIMARY KEY (group_key, energy_kind, period_start, period_end, dwelling_id),
    FOREIGN KEY (group_key, energy_kind, period_start, period_end) REFERENCES peer_day_profile ON DELETE CASCADE
);
CREATE INDEX peer_day_member_dwelling_idx ON peer_day_member (dwelling_id, energy_kind, period_end DESC);
