-- Staff unread counts that cost what they return, however much history a property has.
-- Each conversation carries `staff_unread`: the number of guest messages after the staff read
-- position. Triggers keep it in the statement that inserts messages or moves the position, so
-- it is right whichever build or tool writes (an older build during a rolling upgrade, a bulk
-- load), and partial indexes hold only the unread conversations: `GET /staff/v1/unread` and
-- the `unread=true` filter read those and nothing else.

ALTER TABLE conversations ADD COLUMN staff_unread integer NOT NULL DEFAULT 0;

UPDATE conversations c
   SET staff_unread = u.n
  FROM (SELECT m.property_id, m.conversation_id, count(*) AS n
          FROM conversations c
          JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id
                         AND m.seq > c.staff_read_seq AND m.message_type = 'Guest'
         WHERE c.staff_read_seq < c.last_seq
         GROUP BY m.property_id, m.conversation_id) u
 WHERE c.property_id = u.property_id AND c.id = u.conversation_id;

ALTER TABLE conversations
    ADD CONSTRAINT conversations_staff_unread_valid
        CHECK (staff_unread BETWEEN 0 AND last_seq - staff_read_seq);

-- New guest messages: one UPDATE per statement, however many rows it inserted. The count is
-- taken against the conversation row being updated (re-read if a concurrent statement changed
-- it first), so a read position moved meanwhile is respected.
CREATE FUNCTION count_new_guest_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c
       SET staff_unread = c.staff_unread
                          + (SELECT count(*) FROM unnest(n.seqs) AS s(seq) WHERE s.seq > c.staff_read_seq)
      FROM (SELECT property_id, conversation_id, array_agg(seq) AS seqs
              FROM new_messages
             WHERE message_type = 'Guest'
             GROUP BY property_id, conversation_id) n
     WHERE c.property_id = n.property_id AND c.id = n.conversation_id;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_staff_unread AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_new_guest_messages();

-- A moved staff read position: recounted from the conversation's own messages after the new
-- position (none when it is the last). A BEFORE ROW trigger runs with the row locked, and its
-- query sees every message committed before the lock was granted (a message insert locks the
-- same row in the same statement), so a message never slips between the count and the update.
CREATE FUNCTION recount_staff_unread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.staff_read_seq >= NEW.last_seq THEN
        NEW.staff_unread := 0;
    ELSE
        SELECT count(*) INTO NEW.staff_unread
          FROM messages m
         WHERE m.property_id = NEW.property_id AND m.conversation_id = NEW.id
           AND m.seq > NEW.staff_read_seq AND m.message_type = 'Guest';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER conversations_staff_unread BEFORE UPDATE OF staff_read_seq ON conversations
    FOR EACH ROW WHEN (NEW.staff_read_seq IS DISTINCT FROM OLD.staff_read_seq)
    EXECUTE FUNCTION recount_staff_unread();

-- Only the unread conversations: the unread counts per outlet, and the unread=true staff
-- list, with or without an outlet, newest first.
CREATE INDEX conversations_staff_unread_outlet_idx
    ON conversations (property_id, outlet_id, last_message_at DESC, id DESC) INCLUDE (staff_unread)
    WHERE staff_unread > 0;
CREATE INDEX conversations_staff_unread_idx
    ON conversations (property_id, last_message_at DESC, id DESC)
    WHERE staff_unread > 0;

-- The status filter of the staff list (bound as a parameter, so a full index rather than a
-- partial one): the open conversations newest first, without walking the closed ones.
CREATE INDEX conversations_status_idx
    ON conversations (property_id, status, last_message_at DESC, id DESC);
