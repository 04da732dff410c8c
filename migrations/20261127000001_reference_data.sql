-- Reference data: properties, their credentials, outlets, stays and orders.
-- Every tenant table carries property_id and every key includes it, so the schema can be
-- distributed by property (e.g. with Citus) when one server is not enough.

CREATE TABLE properties (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text        NOT NULL,
    name              text        NOT NULL,
    brand_code        text        NOT NULL,
    group_code        text        NOT NULL,
    time_zone         text        NOT NULL,
    default_language  text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT properties_code_key UNIQUE (code),
    CONSTRAINT properties_code_length CHECK (char_length(code) BETWEEN 1 AND 50),
    CONSTRAINT properties_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT properties_brand_code_length CHECK (char_length(brand_code) <= 50),
    CONSTRAINT properties_group_code_length CHECK (char_length(group_code) <= 50),
    CONSTRAINT properties_time_zone_length CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    CONSTRAINT properties_default_language_length CHECK (char_length(default_language) BETWEEN 2 AND 35)
);

-- API credentials a hotel issues to each app; only a SHA-256 digest is stored.
CREATE TABLE interface_tokens (
    property_id  bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    token_hash   bytea       NOT NULL,
    label        text        NOT NULL DEFAULT '',
    enabled      boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, id),
    CONSTRAINT interface_tokens_hash_key UNIQUE (property_id, token_hash),
    CONSTRAINT interface_tokens_hash_length CHECK (octet_length(token_hash) = 32),
    CONSTRAINT interface_tokens_label_length CHECK (char_length(label) <= 200)
);

CREATE TABLE outlets (
    property_id                bigint  NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id                         bigint GENERATED ALWAYS AS IDENTITY,
    code                       text    NOT NULL,
    name                       text    NOT NULL,
    description                text    NOT NULL DEFAULT '',
    display_order              integer NOT NULL,
    active                     boolean NOT NULL DEFAULT true,
    allow_guest_messages       boolean NOT NULL DEFAULT true,
    allow_non_verified_guests  boolean NOT NULL DEFAULT false,
    service_center_name        text    NOT NULL DEFAULT '',
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, id),
    CONSTRAINT outlets_code_key UNIQUE (property_id, code),
    CONSTRAINT outlets_code_length CHECK (char_length(code) BETWEEN 1 AND 50),
    CONSTRAINT outlets_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT outlets_description_length CHECK (char_length(description) <= 2000),
    CONSTRAINT outlets_service_center_name_length CHECK (char_length(service_center_name) <= 200)
);

-- Weekly opening hours in the property's local time; day 1 = Monday ... 7 = Sunday (ISO).
CREATE TABLE outlet_opening_hours (
    property_id  bigint   NOT NULL,
    outlet_id    bigint   NOT NULL,
    day          smallint NOT NULL,
    opens        time     NOT NULL,
    closes       time     NOT NULL,
    PRIMARY KEY (property_id, outlet_id, day, opens),
    FOREIGN KEY (property_id, outlet_id) REFERENCES outlets (property_id, id) ON DELETE CASCADE,
    CONSTRAINT outlet_opening_hours_day_range CHECK (day BETWEEN 1 AND 7)
);

CREATE TABLE guest_stays (
    property_id    bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    code           text        NOT NULL,
    room_number    text        NOT NULL,
    first_name     text        NOT NULL DEFAULT '',
    last_name      text        NOT NULL,
    language_code  text        NOT NULL,
    check_in       timestamptz NOT NULL,
    check_out      timestamptz NOT NULL,
    PRIMARY KEY (property_id, id),
    CONSTRAINT guest_stays_code_key UNIQUE (property_id, code),
    CONSTRAINT guest_stays_code_length CHECK (char_length(code) BETWEEN 1 AND 50),
    CONSTRAINT guest_stays_room_number_length CHECK (char_length(room_number) BETWEEN 1 AND 20),
    CONSTRAINT guest_stays_first_name_length CHECK (char_length(first_name) <= 100),
    CONSTRAINT guest_stays_last_name_length CHECK (char_length(last_name) BETWEEN 1 AND 100),
    CONSTRAINT guest_stays_language_code_length CHECK (char_length(language_code) BETWEEN 2 AND 35),
    CONSTRAINT guest_stays_dates_ordered CHECK (check_out > check_in)
);

CREATE INDEX guest_stays_room_idx ON guest_stays (property_id, room_number, check_out);

CREATE TABLE orders (
    property_id  bigint NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    code         text   NOT NULL,
    outlet_id    bigint NOT NULL,
    stay_id      bigint NOT NULL,
    PRIMARY KEY (property_id, id),
    CONSTRAINT orders_code_key UNIQUE (property_id, code),
    CONSTRAINT orders_code_length CHECK (char_length(code) BETWEEN 1 AND 50),
    FOREIGN KEY (property_id, outlet_id) REFERENCES outlets (property_id, id),
    FOREIGN KEY (property_id, stay_id) REFERENCES guest_stays (property_id, id) ON DELETE CASCADE
);

-- Service-centre API keys; only a SHA-256 digest is stored.
CREATE TABLE staff_keys (
    property_id   bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    key_hash      bytea       NOT NULL,
    display_name  text        NOT NULL,
    all_outlets   boolean     NOT NULL DEFAULT true,
    enabled       boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, id),
    CONSTRAINT staff_keys_hash_length CHECK (octet_length(key_hash) = 32),
    CONSTRAINT staff_keys_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 100)
);

-- A staff key is looked up by its digest alone (the key says which property it is for).
CREATE UNIQUE INDEX staff_keys_hash_key ON staff_keys (key_hash);

CREATE TABLE staff_key_outlets (
    property_id   bigint NOT NULL,
    staff_key_id  bigint NOT NULL,
    outlet_id     bigint NOT NULL,
    PRIMARY KEY (property_id, staff_key_id, outlet_id),
    FOREIGN KEY (property_id, staff_key_id) REFERENCES staff_keys (property_id, id) ON DELETE CASCADE,
    FOREIGN KEY (property_id, outlet_id) REFERENCES outlets (property_id, id) ON DELETE CASCADE
);
