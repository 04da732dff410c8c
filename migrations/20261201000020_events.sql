-- The live-event log (API section 11). One row per change, written in the change's own
-- transaction. Readers order by (xid, id) and only read below the oldest transaction still in
-- flight; see crates/persistence/src/events.rs for why.

CREATE TABLE events (
    property_id       bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id                bigint      GENERATED ALWAYS AS IDENTITY,
    xid               xid8        NOT NULL DEFAULT pg_current_xact_id(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    type              text        NOT NULL,
    conversation_id   bigint      NOT NULL,
    conversation_code text        NOT NULL,
    outlet_id         bigint      NOT NULL,
    stay_id           bigint,
    guest_identifier  text,
    -- The domain snapshot of the change (the conversation, the message, the read position or
    -- the status): each side's REST shape is rendered from it at delivery, with no query.
    data              jsonb       NOT NULL,
    PRIMARY KEY (property_id, id),
    CONSTRAINT events_type_length CHECK (char_length(type) BETWEEN 1 AND 64)
);

CREATE INDEX events_log_idx ON events (property_id, xid, id);
CREATE INDEX events_stay_idx ON events (property_id, stay_id, xid, id) WHERE stay_id IS NOT NULL;
CREATE INDEX events_visitor_idx ON events (property_id, guest_identifier, xid, id)
    WHERE guest_identifier IS NOT NULL;
CREATE INDEX events_purge_idx ON events (created_at);

-- The highest transaction id whose events a purge removed: a cursor at or below it may have
-- lost events after it, so it gets `reset`.
CREATE TABLE event_log_state (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    purged_through  xid8    NOT NULL DEFAULT '0'
);
INSERT INTO event_log_state DEFAULT VALUES;
