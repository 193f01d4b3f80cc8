-- Consent per dwelling and data flow (issue 19). A household decides what the cooperative collects:
-- coopwatt.consent names the flows and the texts; the ingester and the importers store a flow's readings
-- only while a consent to it is in force; the nightly comparisons and the monthly letters take part only
-- households that consented to them.
--
-- History is kept: a record is never deleted or rewritten but to close it. In force = granted and not
-- withdrawn. Recording a new decision for a flow closes the grant in force (withdrawn_at), so at most one
-- grant per dwelling and flow is open at a time (unique index below); a refusal is a record of its own.
CREATE TABLE consent (
    id               bigserial PRIMARY KEY,
    dwelling_id      integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    flow             text NOT NULL CHECK (flow IN ('electricity_load_curve', 'electricity_daily', 'gas', 'water',
                                                   'heating', 'comparisons', 'letters')),
    granted          boolean NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now(),  -- the day the household decided (a paper form's date)
    -- Who recorded it: the household itself online, a staff account with a signed paper form, or this
    -- migration for dwellings registered before consent existed (see docs/operations.md, "Data protection").
    recorded_by      text NOT NULL CHECK (recorded_by IN ('household', 'staff', 'migration')),
    recorded_account integer REFERENCES account ON DELETE SET NULL,
    paper_form       text,          -- the signed form's reference (staff only)
    text_version     text NOT NULL, -- the version of the consent text the household was shown
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    withdrawn_at     timestamptz,
    withdrawn_by     text CHECK (withdrawn_by IN ('household', 'staff')),
    withdrawn_account integer REFERENCES account ON DELETE SET NULL,
    -- What the household chose for the data already collected: delete it, or (load curve) keep daily values.
    withdrawal_choice text CHECK (withdrawal_choice IN ('delete', 'aggregate', 'keep')),
    withdrawal_form  text,          -- the signed form of a withdrawal staff recorded
    CHECK (recorded_by <> 'staff' OR paper_form IS NOT NULL),
    CHECK (granted OR withdrawn_at IS NULL),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    CHECK (withdrawn_by IS DISTINCT FROM 'staff' OR withdrawal_form IS NOT NULL)
);
CREATE UNIQUE INDEX consent_open_grant_idx ON consent (dwelling_id, flow) WHERE granted AND withdrawn_at IS NULL;
CREATE INDEX consent_dwelling_idx ON consent (dwelling_id, decided_at DESC);

-- Dwellings registered before this version: their meters were collected under the cooperative's
-- membership contract. They keep every flow but the load curve, which the rules on communicating meters
-- allow only with an explicit, specific consent: from this version on, their electricity is kept daily
-- until the household (online) or staff (paper form) records a load-curve consent.
INSERT INTO consent (dwelling_id, flow, granted, decided_at, recorded_by, text_version)
SELECT d.id, f.flow, true, now(), 'migration', 'pre-consent'
  FROM dwelling d
 CROSS JOIN (VALUES ('electricity_daily'), ('gas'), ('water'), ('heating'), ('comparisons'), ('letters')) AS f (flow);
