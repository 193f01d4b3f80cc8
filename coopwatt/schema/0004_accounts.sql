-- Dashboard accounts, their scope, login attempts (rate limiting shared by every
-- worker), erasure requests and the user actions the dashboard writes.
-- The same in both storage modes.

CREATE TABLE account (
    id            serial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username = lower(username) AND length(username) BETWEEN 2 AND 64),
    password_hash text NOT NULL,               -- argon2id, PHC string
    role          text NOT NULL CHECK (role IN ('household', 'adviser', 'manager', 'admin')),
    -- A household sees exactly one dwelling; nobody else is tied to one.
    dwelling_id   integer REFERENCES dwelling ON DELETE CASCADE,
    language      text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CHECK ((role = 'household') = (dwelling_id IS NOT NULL))
);
CREATE INDEX account_dwelling_idx ON account (dwelling_id);

-- An adviser's residences.
CREATE TABLE account_residence (
    account_id   integer NOT NULL REFERENCES account ON DELETE CASCADE,
    residence_id integer NOT NULL REFERENCES residence ON DELETE CASCADE,
    PRIMARY KEY (account_id, residence_id)
);

-- A building manager's buildings.
CREATE TABLE account_building (
    account_id  integer NOT NULL REFERENCES account ON DELETE CASCADE,
    building_id integer NOT NULL REFERENCES building ON DELETE CASCADE,
    PRIMARY KEY (account_id, building_id)
);

-- Every login attempt, kept for the rate limit (counted per user name and per address).
CREATE TABLE login_attempt (
    id           bigserial PRIMARY KEY,
    username     text NOT NULL,
    remote_addr  text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    succeeded    boolean NOT NULL
);
CREATE INDEX login_attempt_username_idx ON login_attempt (username, attempted_at);
CREATE INDEX login_attempt_addr_idx ON login_attempt (remote_addr, attempted_at);

-- "Ask for erasure": recorded for the admin, who carries it out. Kept after the
-- account is gone (username copied) so the admin can show it was done.
CREATE TABLE erasure_request (
    id           bigserial PRIMARY KEY,
    account_id   integer REFERENCES account ON DELETE SET NULL,
    username     text NOT NULL,
    dwelling_id  integer REFERENCES dwelling ON DELETE SET NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused')),
    handled_at   timestamptz,
    admin_note   text
);
-- One open request per account at a time.
CREATE UNIQUE INDEX erasure_request_open_idx ON erasure_request (account_id) WHERE status = 'open';

-- An adviser's follow-up mark on a dwelling, with a note.
CREATE TABLE follow_up (
    id          bigserial PRIMARY KEY,
    dwelling_id integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    account_id  integer REFERENCES account ON DELETE SET NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'contacted', 'closed')),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_up_dwelling_idx ON follow_up (dwelling_id, updated_at DESC);

-- What a manager did with an alert. alert_id is the id of the analytics alert
-- (migration 0003); no foreign key here so that this migration does not depend
-- on the analytics tables.
CREATE TABLE alert_action (
    id         bigserial PRIMARY KEY,
    alert_id   bigint NOT NULL,
    account_id integer REFERENCES account ON DELETE SET NULL,
    action     text NOT NULL CHECK (action IN ('acknowledge', 'resolve', 'comment')),
    comment    text NOT NULL DEFAULT '',
    acted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_action_alert_idx ON alert_action (alert_id, acted_at);
