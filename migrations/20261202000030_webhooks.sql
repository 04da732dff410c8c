-- Webhooks (API section 12): per-property endpoints from the reference data, and one delivery
-- row per (event, matching endpoint), inserted by a trigger of the statement that appends the
-- event, so a committed event has its deliveries and nothing is lost. Workers claim due rows
-- with FOR UPDATE SKIP LOCKED and lease them by moving `next_attempt_at` forward before
-- sending; see crates/persistence/src/webhooks.rs.

CREATE TABLE webhook_endpoints (
    property_id  bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    url          text        NOT NULL,
    -- `whsec_` and the base64 of the key: kept in clear because it signs every delivery.
    secret       text        NOT NULL,
    -- NULL: every event type.
    event_types  text[],
    -- NULL: every outlet; else the outlets whose conversations are wanted.
    outlet_ids   bigint[],
    enabled      boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, id),
    CONSTRAINT webhook_endpoints_url_unique UNIQUE (property_id, url)
);

CREATE TABLE webhook_deliveries (
    property_id       bigint      NOT NULL,
    id                bigint      GENERATED ALWAYS AS IDENTITY,
    endpoint_id       bigint      NOT NULL,
    -- The event: `webhook-id` is its cursor "{xid}-{id}", the same on every attempt. Its
    -- snapshot is copied here so that purging old events never loses a pending delivery.
    event_xid         xid8        NOT NULL,
    event_id          bigint      NOT NULL,
    event_type        text        NOT NULL,
    conversation_code text        NOT NULL,
    outlet_id         bigint      NOT NULL,
    event_created_at  timestamptz NOT NULL,
    data              jsonb       NOT NULL,
    -- The body as first sent: every retry sends the same bytes.
    body              text,
    status            text        NOT NULL DEFAULT 'pending',
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz,
    last_status       integer,
    last_error        text,
    -- At most 1 KiB of the last failed answer's body.
    last_response     text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, id),
    FOREIGN KEY (property_id, endpoint_id) REFERENCES webhook_endpoints (property_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_status CHECK (status IN ('pending', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_response_length CHECK (octet_length(last_response) <= 1024)
);

-- Due work, per endpoint (each endpoint is worked on by its own task).
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (property_id, endpoint_id, next_attempt_at)
    WHERE status = 'pending';
-- The oldest pending delivery (metrics, status).
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (property_id, endpoint_id, status);
-- Delivered rows are purged after the event retention (the worker, hourly).
CREATE INDEX webhook_deliveries_delivered_idx ON webhook_deliveries (delivered_at) WHERE status = 'delivered';
-- Fan-out looks up a property's enabled endpoints on every event append.
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (property_id) WHERE enabled;

-- The fan-out, in the statement that appends events: a statement-level trigger (one INSERT per
-- statement, whatever its row count), so that every writer of events queues their deliveries,
-- whichever code path or build it is (the append of crates/persistence/src/events.rs, a
-- scheduled job, an older or newer build during a rolling upgrade). The filter is
-- `bellhop_domain::webhook::WebhookFilter::admits`: NULL types or outlets mean all. A property
-- without enabled endpoints costs one probe of webhook_endpoints_enabled_idx.
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (property_id, endpoint_id, event_xid, event_id, event_type,
                                    conversation_code, outlet_id, event_created_at, data)
    SELECT e.property_id, w.id, e.xid, e.id, e.type, e.conversation_code, e.outlet_id,
           e.created_at, e.data
      FROM new_events e
      JOIN webhook_endpoints w ON w.property_id = e.property_id AND w.enabled
     WHERE (w.event_types IS NULL OR e.type = ANY (w.event_types))
       AND (w.outlet_ids IS NULL OR e.outlet_id = ANY (w.outlet_ids));
    RETURN NULL;
END
$$;

CREATE TRIGGER events_queue_webhook_deliveries
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();
