-- Guest sessions, conversations and messages.

CREATE TABLE sessions (
    property_id        bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id                 uuid        NOT NULL,
    kind               text        NOT NULL,
    stay_id            bigint,
    guest_identifier   text,
    language_code      text        NOT NULL,
    explicit_language  text,
    created_at         timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    ended_at           timestamptz,
    PRIMARY KEY (property_id, id),
    FOREIGN KEY (property_id, stay_id) REFERENCES guest_stays (property_id, id) ON DELETE CASCADE,
    CONSTRAINT sessions_kind_valid CHECK (
        (kind = 'anonymous' AND stay_id IS NULL AND guest_identifier IS NULL)
        OR (kind = 'verified' AND stay_id IS NOT NULL AND guest_identifier IS NULL)
        OR (kind = 'visitor' AND stay_id IS NULL AND guest_identifier IS NOT NULL)
    ),
    CONSTRAINT sessions_guest_identifier_length CHECK (char_length(guest_identifier) BETWEEN 1 AND 200),
    CONSTRAINT sessions_language_code_length CHECK (char_length(language_code) BETWEEN 2 AND 35),
    CONSTRAINT sessions_explicit_language_length CHECK (char_length(explicit_language) BETWEEN 2 AND 35)
);

-- Tokens carry only the session id; the property comes from the same row.
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
CREATE INDEX sessions_purge_idx ON sessions (coalesce(ended_at, last_seen_at));

CREATE TABLE conversations (
    property_id          bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id                   bigint GENERATED ALWAYS AS IDENTITY,
    code                 text        NOT NULL,
    outlet_id            bigint      NOT NULL,
    order_id             bigint,
    stay_id              bigint,
    guest_identifier     text,
    session_id           uuid,
    subject              text        NOT NULL,
    conversation_type    text        NOT NULL,
    status               text        NOT NULL DEFAULT 'Open',
    room_number          text,
    guest_first_name     text,
    guest_last_name      text,
    guest_language_code  text,
    order_form_details   jsonb,
    last_seq             integer     NOT NULL DEFAULT 0,
    guest_read_seq       integer     NOT NULL DEFAULT 0,
    staff_read_seq       integer     NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    last_message_at      timestamptz NOT NULL,
    closed_at            timestamptz,
    PRIMARY KEY (property_id, id),
    CONSTRAINT conversations_code_key UNIQUE (property_id, code),
    FOREIGN KEY (property_id, outlet_id) REFERENCES outlets (property_id, id),
    FOREIGN KEY (property_id, order_id) REFERENCES orders (property_id, id),
    FOREIGN KEY (property_id, stay_id) REFERENCES guest_stays (property_id, id) ON DELETE CASCADE,
    CONSTRAINT conversations_owner_valid CHECK ((stay_id IS NULL) <> (guest_identifier IS NULL)),
    CONSTRAINT conversations_code_length CHECK (char_length(code) BETWEEN 16 AND 64),
    CONSTRAINT conversations_subject_length CHECK (char_length(subject) BETWEEN 1 AND 120),
    CONSTRAINT conversations_type_valid CHECK (conversation_type IN ('', 'guest')),
    CONSTRAINT conversations_status_valid CHECK (status IN ('Open', 'Closed')),
    CONSTRAINT conversations_seq_valid CHECK (last_seq >= 0 AND guest_read_seq BETWEEN 0 AND last_seq
                                              AND staff_read_seq BETWEEN 0 AND last_seq),
    CONSTRAINT conversations_form_size CHECK (order_form_details IS NULL OR pg_column_size(order_form_details) <= 65536)
);

CREATE INDEX conversations_stay_idx ON conversations (property_id, stay_id, last_message_at DESC, id DESC)
    WHERE stay_id IS NOT NULL;
CREATE INDEX conversations_visitor_idx ON conversations (property_id, guest_identifier, last_message_at DESC, id DESC)
    WHERE guest_identifier IS NOT NULL;
CREATE INDEX conversations_staff_idx ON conversations (property_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_outlet_idx ON conversations (property_id, outlet_id, last_message_at DESC, id DESC);

CREATE TABLE messages (
    property_id          bigint      NOT NULL,
    id                   bigint GENERATED ALWAYS AS IDENTITY,
    conversation_id      bigint      NOT NULL,
    seq                  integer     NOT NULL,
    code                 text        NOT NULL,
    message_type         text        NOT NULL,
    content              text        NOT NULL,
    first_name           text        NOT NULL DEFAULT '',
    last_name            text        NOT NULL DEFAULT '',
    service_center_name  text        NOT NULL DEFAULT '',
    language_code        text        NOT NULL,
    is_translated        boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    PRIMARY KEY (property_id, id),
    CONSTRAINT messages_code_key UNIQUE (property_id, code),
    CONSTRAINT messages_seq_key UNIQUE (property_id, conversation_id, seq),
    FOREIGN KEY (property_id, conversation_id) REFERENCES conversations (property_id, id) ON DELETE CASCADE,
    CONSTRAINT messages_seq_positive CHECK (seq >= 1),
    CONSTRAINT messages_code_length CHECK (char_length(code) BETWEEN 16 AND 64),
    CONSTRAINT messages_type_valid CHECK (message_type IN ('Guest', 'ServiceCenter')),
    CONSTRAINT messages_content_length CHECK (char_length(content) BETWEEN 1 AND 4000),
    CONSTRAINT messages_names_length CHECK (char_length(first_name) <= 200 AND char_length(last_name) <= 200)
);

-- Idempotent creation (section 7): the stored successful response of a key, per scope.
CREATE TABLE idempotency_keys (
    property_id     bigint      NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    scope           text        NOT NULL,
    key             text        NOT NULL,
    request_hash    bytea       NOT NULL,
    -- The response exactly as first sent (JSON text; jsonb would reorder its keys).
    response_body   text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (property_id, scope, key),
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
