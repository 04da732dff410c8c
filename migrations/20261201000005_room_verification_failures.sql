-- Failed room verifications, counted per property and room in a window shared by every server
-- instance (spec section 3): after too many, that room's verifications wait out the window.
CREATE TABLE room_verification_failures (
    property_id        bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    room_key           text        NOT NULL,
    window_started_at  timestamptz NOT NULL,
    failures           integer     NOT NULL,
    PRIMARY KEY (property_id, room_key),
    CONSTRAINT room_verification_failures_room_key_length CHECK (char_length(room_key) BETWEEN 1 AND 50),
    CONSTRAINT room_verification_failures_failures_positive CHECK (failures >= 0)
);

CREATE INDEX room_verification_failures_window_idx ON room_verification_failures (window_started_at);
