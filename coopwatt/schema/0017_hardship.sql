-- Homes that may be in energy hardship (analytics/hardship.py), for energy advisers only, and
-- what the advisers did about each case. Never read by a household, manager or public view.

-- One case per dwelling and signal while it is not closed; the nightly job refreshes its evidence.
-- still_flagged goes false when a night no longer raises the signal: the adviser closes the case.
CREATE TABLE hardship_case (
    id               bigserial PRIMARY KEY,
    dwelling_id      integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    signal           text NOT NULL CHECK (signal IN ('under_heating', 'after_tariff_rise', 'high_cost')),
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'contacted', 'visited', 'help_offered', 'closed')),
    evidence         jsonb NOT NULL,
    still_flagged    boolean NOT NULL DEFAULT true,
    first_flagged_at timestamptz NOT NULL DEFAULT now(),
    last_flagged_at  timestamptz NOT NULL DEFAULT now(),
    run_id           bigint REFERENCES analytics_run ON DELETE SET NULL,
    closed_at        timestamptz
);
CREATE UNIQUE INDEX hardship_case_live_idx ON hardship_case (dwelling_id, signal) WHERE status <> 'closed';

-- The follow-up workflow: who did what, when, with a note. The username is kept so the
-- record still says who acted after an account is removed.
CREATE TABLE hardship_action (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES hardship_case ON DELETE CASCADE,
    account_id integer REFERENCES account ON DELETE SET NULL,
    username   text NOT NULL,
    action     text NOT NULL CHECK (action IN ('contacted', 'visited', 'help_offered', 'closed')),
    note       text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    acted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hardship_action_case_idx ON hardship_action (case_id, acted_at);
