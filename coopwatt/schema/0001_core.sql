-- Core tables, the same in both modes (TimescaleDB and plain PostgreSQL).

CREATE TABLE IF NOT EXISTS coopwatt_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE residence (
    id        serial PRIMARY KEY,
    code      text NOT NULL UNIQUE,
    name      text NOT NULL,
    district  text,
    city      text,
    postcode  text
);

CREATE TABLE building (
    id                serial PRIMARY KEY,
    residence_id      integer NOT NULL REFERENCES residence ON DELETE CASCADE,
    code              text NOT NULL,
    name              text,
    construction_year integer,
    UNIQUE (residence_id, code)
);

CREATE TABLE dwelling (
    id            serial PRIMARY KEY,
    building_id   integer NOT NULL REFERENCES building ON DELETE CASCADE,
    code          text NOT NULL,
    floor_area_m2 real NOT NULL CHECK (floor_area_m2 > 0),
    heating_type  text NOT NULL CHECK (heating_type IN ('electric', 'gas', 'collective', 'heat_pump', 'district', 'other')),
    energy_label  char(1) CHECK (energy_label BETWEEN 'A' AND 'G'),
    occupants     smallint CHECK (occupants >= 0),
    UNIQUE (building_id, code)
);

-- A quantity is what a reading measures, always in its canonical unit (in the name).
CREATE TABLE quantity (
    id         smallint PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    unit       text NOT NULL,
    cumulative boolean NOT NULL
);
INSERT INTO quantity (id, name, unit, cumulative) VALUES
    (1, 'energy_index_kwh',         'kWh', true),
    (2, 'energy_index_offpeak_kwh', 'kWh', true),
    (3, 'energy_index_peak_kwh',    'kWh', true),
    (4, 'energy_kwh',               'kWh', false),
    (5, 'power_w',                  'W',   false),
    (6, 'apparent_power_va',        'VA',  false),
    (7, 'volume_index_m3',          'm3',  true),
    (8, 'volume_m3',                'm3',  false),
    (9, 'temperature_c',            'degC', false);

-- A meter belongs to a dwelling, or to a building for collective meters.
-- "source" is how the ingester recognises it: a topic or a device id.
CREATE TABLE meter (
    id                 serial PRIMARY KEY,
    dwelling_id        integer REFERENCES dwelling ON DELETE CASCADE,
    building_id        integer REFERENCES building ON DELETE CASCADE,
    kind               text NOT NULL CHECK (kind IN ('electricity', 'gas', 'water', 'heat')),
    mode               text NOT NULL CHECK (mode IN ('index', 'interval')),
    source             text NOT NULL UNIQUE,
    format             text,
    installed_at       timestamptz NOT NULL DEFAULT '2000-01-01 00:00+00',
    removed_at         timestamptz,
    reporting_period_s integer CHECK (reporting_period_s > 0),
    auto_registered    boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (dwelling_id IS NOT NULL OR building_id IS NOT NULL OR auto_registered)
);
CREATE INDEX meter_dwelling_idx ON meter (dwelling_id);
CREATE INDEX meter_building_idx ON meter (building_id);

-- Raw readings. Writes are idempotent: the key is (meter, quantity, time).
CREATE TABLE reading (
    meter_id    integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    quantity_id smallint NOT NULL REFERENCES quantity,
    time        timestamptz NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (meter_id, quantity_id, time)
);

-- Outdoor temperature per residence, for degree-days.
CREATE TABLE outdoor_temperature (
    residence_id  integer NOT NULL REFERENCES residence ON DELETE CASCADE,
    time          timestamptz NOT NULL,
    temperature_c real NOT NULL,
    PRIMARY KEY (residence_id, time)
);

-- Hourly consumption derived from indices or interval values.
-- estimated: the hour received a share of a gap that was spread, not a measurement.
CREATE TABLE consumption_hourly (
    meter_id   integer NOT NULL REFERENCES meter ON DELETE CASCADE,
    hour       timestamptz NOT NULL,
    energy_kwh double precision,
    volume_m3  double precision,
    estimated  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (meter_id, hour)
);

-- Meters whose consumption must be derived again from this time on
-- (new, late or out-of-order readings). Written by the ingester in the same
-- transaction as the readings, emptied by the consumption job.
CREATE TABLE consumption_pending (
    meter_id  integer PRIMARY KEY REFERENCES meter ON DELETE CASCADE,
    from_time timestamptz NOT NULL
);

-- Everything that could not be stored, with the reason. Nothing is dropped silently.
CREATE TABLE dead_letter (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    topic       text,
    payload     bytea,
    reason      text NOT NULL
);
CREATE INDEX dead_letter_received_idx ON dead_letter (received_at);
