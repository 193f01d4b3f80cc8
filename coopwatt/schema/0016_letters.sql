-- Monthly letters (reports/, issue 16): each household's choice of letter and its postal address,
-- the letters built for a month (e-mail or paper) with their delivery state, the e-mail addresses
-- that bounced, and the residences' collective progress over the heating season.
-- The same in both storage modes.

-- What a household chose: e-mail (the default when an address is known), paper, or no letter.
-- Editable by the household (dashboard) and by staff (`coopwatt reports prefs`); an erasure
-- request deletes the row.
CREATE TABLE letter_preference (
    dwelling_id    integer PRIMARY KEY REFERENCES dwelling ON DELETE CASCADE,
    delivery       text NOT NULL DEFAULT 'email' CHECK (delivery IN ('email', 'paper', 'none')),
    email          text CHECK (email IS NULL OR (length(email) <= 254 AND email LIKE '%_@_%')),
    language       text CHECK (language IN ('fr', 'en')),
    recipient_name text CHECK (length(recipient_name) <= 200),
    postal_address text CHECK (length(postal_address) <= 1000),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL DEFAULT ''
);

-- One letter per dwelling and month. `content` holds the letter's facts as built (only figures a
-- household may see: its own, and published aggregates of at least k homes); it is rendered to
-- HTML for e-mail and to PDF for the print file. E-mail rows are delivered like alert notices:
-- once, retried with back-off, closed with gave_up_at; a refused address moves the letter to paper.
-- Paper rows are "sent" when a print file took them (print_file names it).
CREATE TABLE letter (
    dwelling_id     integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    channel         text NOT NULL CHECK (channel IN ('email', 'paper')),
    target          text NOT NULL DEFAULT '',
    language        text NOT NULL CHECK (language IN ('fr', 'en')),
    content         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    gave_up_at      timestamptz,
    last_error      text,
    print_file      text,
    PRIMARY KEY (dwelling_id, month),
    CHECK (channel = 'paper' OR target <> '')
);
CREATE INDEX letter_due_idx ON letter (channel, next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- Addresses an SMTP server refused for good: no more letters go there until the address is changed.
CREATE TABLE letter_bounce (
    email      text PRIMARY KEY,
    bounced_at timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL
);

-- A residence's (building_id NULL) or building's progress over the heating season so far, against
-- the same days of the baseline season, weather-normalised. Figures only when published: at least
-- k homes with comparable data, and no published group whose difference with another isolates
-- fewer than k homes.
CREATE TABLE collective_progress (
    id               serial PRIMARY KEY,
    residence_id     integer NOT NULL REFERENCES residence ON DELETE CASCADE,
    building_id      integer REFERENCES building ON DELETE CASCADE,
    season_start     date NOT NULL,
    baseline_start   date NOT NULL,
    period_end       date NOT NULL,
    published        boolean NOT NULL,
    withheld_reason  text,
    home_count       integer,
    change_fraction  double precision,
    improved_fraction double precision,
    goal_fraction    double precision NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (published = (change_fraction IS NOT NULL)),
    CHECK (published OR (home_count IS NULL AND improved_fraction IS NULL))
);
CREATE UNIQUE INDEX collective_progress_scope_idx
    ON collective_progress (residence_id, coalesce(building_id, 0), season_start);
