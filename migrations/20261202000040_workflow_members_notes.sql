-- The service-centre workflow (API section 14): staff members (keys with a code), who owns a
-- conversation, internal notes and quick replies.

-- A staff key with a code is a staff member who can be assigned conversations. The code is
-- unique within the property; the check is deferred to commit so that a reload may move a
-- code from one key to another within its transaction.
ALTER TABLE staff_keys ADD COLUMN code text;
ALTER TABLE staff_keys ADD CONSTRAINT staff_keys_code_length
    CHECK (code IS NULL OR char_length(code) BETWEEN 1 AND 50);
ALTER TABLE staff_keys ADD CONSTRAINT staff_keys_code_key
    UNIQUE (property_id, code) DEFERRABLE INITIALLY DEFERRED;

-- The member a conversation is assigned to. Deleting the key unassigns its conversations
-- (only the assignee column is set to null: the property stays), so no conversation ever
-- points at a member who no longer exists.
ALTER TABLE conversations ADD COLUMN assignee_key_id bigint;
ALTER TABLE conversations ADD CONSTRAINT conversations_assignee_fkey
    FOREIGN KEY (property_id, assignee_key_id) REFERENCES staff_keys (property_id, id)
    ON DELETE SET NULL (assignee_key_id);
CREATE INDEX conversations_assignee_idx
    ON conversations (property_id, assignee_key_id, last_message_at DESC, id DESC)
    WHERE assignee_key_id IS NOT NULL;

-- Internal notes: staff only, never shown to guests, outside the message sequence. The
-- author's code and name are copied when the note is written, so a note keeps its author
-- after the key changes or goes.
CREATE TABLE conversation_notes (
    property_id      bigint      NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    conversation_id  bigint      NOT NULL,
    code             text        NOT NULL,
    content          text        NOT NULL,
    author_key_id    bigint,
    author_code      text,
    author_name      text        NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (property_id, id),
    CONSTRAINT conversation_notes_code_key UNIQUE (property_id, code),
    FOREIGN KEY (property_id, conversation_id) REFERENCES conversations (property_id, id) ON DELETE CASCADE,
    FOREIGN KEY (property_id, author_key_id) REFERENCES staff_keys (property_id, id)
        ON DELETE SET NULL (author_key_id),
    CONSTRAINT conversation_notes_code_length CHECK (char_length(code) BETWEEN 16 AND 64),
    CONSTRAINT conversation_notes_content_length CHECK (char_length(content) BETWEEN 1 AND 4000),
    CONSTRAINT conversation_notes_author_name_length CHECK (char_length(author_name) BETWEEN 1 AND 100)
);

CREATE INDEX conversation_notes_conversation_idx
    ON conversation_notes (property_id, conversation_id, created_at, id);

-- Quick replies: common answers per property, optionally limited to some outlets.
CREATE TABLE quick_replies (
    property_id  bigint  NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    code         text    NOT NULL,
    title        text    NOT NULL,
    content      text    NOT NULL,
    all_outlets  boolean NOT NULL DEFAULT true,
    PRIMARY KEY (property_id, id),
    CONSTRAINT quick_replies_code_key UNIQUE (property_id, code),
    CONSTRAINT quick_replies_code_length CHECK (char_length(code) BETWEEN 1 AND 50),
    CONSTRAINT quick_replies_title_length CHECK (char_length(title) BETWEEN 1 AND 100),
    CONSTRAINT quick_replies_content_length CHECK (char_length(content) BETWEEN 1 AND 4000)
);

CREATE TABLE quick_reply_outlets (
    property_id     bigint NOT NULL,
    quick_reply_id  bigint NOT NULL,
    outlet_id       bigint NOT NULL,
    PRIMARY KEY (property_id, quick_reply_id, outlet_id),
    FOREIGN KEY (property_id, quick_reply_id) REFERENCES quick_replies (property_id, id) ON DELETE CASCADE,
    FOREIGN KEY (property_id, outlet_id) REFERENCES outlets (property_id, id) ON DELETE CASCADE
);
