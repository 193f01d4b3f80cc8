-- Each dwelling's electricity supply contract, dated: a household may change option or power,
-- and the off-peak suggestion must know which option it has on a given day (issue 13).
-- option: 'base' (one price), 'hphc' (heures pleines / heures creuses, with its off-peak hours
-- as local hours of the day, e.g. {22,23,0,1,2,3,4,5}), 'tempo' (six prices by day colour).
CREATE TABLE supply_contract (
    dwelling_id     integer NOT NULL REFERENCES dwelling ON DELETE CASCADE,
    valid_from      date NOT NULL,
    option          text NOT NULL CHECK (option IN ('base', 'hphc', 'tempo')),
    subscribed_kva  smallint NOT NULL CHECK (subscribed_kva BETWEEN 3 AND 36),
    offpeak_hours   smallint[] CHECK (offpeak_hours IS NULL OR offpeak_hours <@ ARRAY[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23]::smallint[]),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dwelling_id, valid_from),
    -- Off-peak hours belong to heures creuses and Tempo (whose off-peak hours are fixed nationally) only.
    CHECK (option <> 'base' OR offpeak_hours IS NULL)
);
