-- pgbench (a): the SQL work of POST .../Messages/Conversations as an interactive transaction,
-- one statement per round trip (pgbench -M prepared, as the server uses prepared statements): read the session (with its stay), read the property, resolve
-- the outlet, insert the conversation and its first message, then append its event to the log
-- (section 11; the statement also notifies the listeners and fires the webhook trigger).
\set n random(1, :guests)
BEGIN;
SELECT s.property_id AS pid, s.id AS sid, s.stay_id AS stay, s.language_code AS lang,
       g.first_name AS fname, g.last_name AS lname, g.room_number AS room, g.language_code AS glang
  FROM bench_guests b
  JOIN sessions s ON s.property_id = b.property_id AND s.id = b.session_id
  JOIN guest_stays g ON g.property_id = s.property_id AND g.id = s.stay_id
 WHERE b.n = :n \gset
SELECT id, code, name, brand_code, group_code, time_zone, default_language FROM properties WHERE id = :pid;
SELECT o.id AS oid FROM outlets o
 WHERE o.property_id = :pid AND o.active AND o.allow_guest_messages
 ORDER BY o.display_order, o.code LIMIT 1 \gset
WITH c AS (
    INSERT INTO conversations (property_id, code, outlet_id, stay_id, session_id, subject, conversation_type,
           room_number, guest_first_name, guest_last_name, guest_language_code, last_seq, created_at, last_message_at)
    VALUES (:pid, md5(random()::text), :oid, :stay, :sid, 'Benchmark request', 'guest',
            :room, :fname, :lname, :glang, 1, now(), now())
    RETURNING *
), m AS (
    INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content, first_name, last_name,
           service_center_name, language_code, created_at, stay_id)
    SELECT c.property_id, c.id, 1, md5(random()::text), 'Guest', 'Benchmark request: two towels, please.',
           c.guest_first_name, c.guest_last_name, '', :lang, c.created_at, c.stay_id FROM c
    RETURNING *
)
SELECT c.id AS cid, c.code, m.id, m.code FROM c JOIN m ON m.conversation_id = c.id \gset
WITH e AS (
    INSERT INTO events (property_id, type, conversation_id, conversation_code, outlet_id, stay_id,
                        guest_identifier, data)
    SELECT c.property_id, 'conversation.created', c.id, c.code, c.outlet_id, c.stay_id,
           c.guest_identifier, '{"conversation": {"subject": "Benchmark request"}}'::jsonb
      FROM conversations c WHERE c.property_id = :pid AND c.id = :cid
    RETURNING property_id)
SELECT pg_notify('bellhop_events', property_id::text) FROM e;
COMMIT;
