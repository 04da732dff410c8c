-- The reply clock and out-of-hours replies (API section 14).
--
-- Outlets may have a reply target (minutes of opening time) and an automatic out-of-hours
-- reply. Each conversation stores its reply clock, written by the domain's decision in the
-- same transaction as the message that changed it: since when a guest waits, when the reply
-- is due, whether this waiting period had its out-of-hours reply, and whether its
-- `conversation.overdue` event was emitted. Messages say whether the service wrote them itself.

ALTER TABLE outlets
    ADD COLUMN reply_target_minutes integer,
    ADD COLUMN out_of_hours_reply   text,
    ADD CONSTRAINT outlets_reply_target_range CHECK (reply_target_minutes BETWEEN 1 AND 10080),
    ADD CONSTRAINT outlets_out_of_hours_reply_length CHECK (char_length(out_of_hours_reply) BETWEEN 1 AND 1000);

ALTER TABLE conversations
    ADD COLUMN awaiting_reply_since timestamptz,
    ADD COLUMN reply_due_at         timestamptz,
    ADD COLUMN out_of_hours_replied boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue_notified     boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT conversations_reply_due_waits CHECK (reply_due_at IS NULL OR awaiting_reply_since IS NOT NULL);

ALTER TABLE messages ADD COLUMN automatic boolean NOT NULL DEFAULT false;

-- The overdue job reads only the waiting conversations not yet notified, by due time: it never
-- walks the open conversations, however many there are.
CREATE INDEX conversations_reply_due_idx ON conversations (property_id, reply_due_at)
    WHERE reply_due_at IS NOT NULL AND NOT overdue_notified;

-- The `overdue=true` staff list: only conversations with a due time, newest first.
CREATE INDEX conversations_reply_waiting_idx
    ON conversations (property_id, last_message_at DESC, id DESC) INCLUDE (reply_due_at)
    WHERE reply_due_at IS NOT NULL;
