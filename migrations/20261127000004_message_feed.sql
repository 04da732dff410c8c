-- A guest's message feed (GET API/V40/Interactive/Messages) reads the newest or oldest
-- messages of all the guest's conversations. Each message carries its conversation's owner so
-- one index answers that in order, however many messages the guest has.

ALTER TABLE messages ADD COLUMN stay_id bigint, ADD COLUMN guest_identifier text;

UPDATE messages m
   SET stay_id = c.stay_id, guest_identifier = c.guest_identifier
  FROM conversations c
 WHERE c.property_id = m.property_id AND c.id = m.conversation_id;

ALTER TABLE messages
    ADD CONSTRAINT messages_owner_valid CHECK ((stay_id IS NULL) <> (guest_identifier IS NULL));

CREATE INDEX messages_stay_feed_idx ON messages (property_id, stay_id, created_at, conversation_id, seq)
    WHERE stay_id IS NOT NULL;
CREATE INDEX messages_visitor_feed_idx ON messages (property_id, guest_identifier, created_at, conversation_id, seq)
    WHERE guest_identifier IS NOT NULL;
