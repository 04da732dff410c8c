-- pgbench (b): the same SQL work as interactive.sql in one statement (one round trip),
-- the event append included.
\set n random(1, :guests)
WITH s AS (
    SELECT s.property_id, s.id, s.stay_id, s.language_code, g.first_name, g.last_name, g.room_number,
           g.language_code AS guest_language
      FROM bench_guests b
      JOIN sessions s ON s.property_id = b.property_id AND s.id = b.session_id
      JOIN guest_stays g ON g.property_id = s.property_id AND g.id = s.stay_id
     WHERE b.n = :n
), p AS (
    SELECT p.id FROM properties p JOIN s ON p.id = s.property_id
), o AS (
    SELECT o.id FROM outlets o JOIN p ON o.property_id = p.id
     WHERE o.active AND o.allow_guest_messages
     ORDER BY o.display_order, o.code LIMIT 1
), c AS (
    INSERT INTO conversations (property_id, code, outlet_id, stay_id, session_id, subject, conversation_type,
           room_number, guest_first_name, guest_last_name, guest_language_code, last_seq, created_at, last_message_at)
    SELECT s.property_id, md5(random()::text), o.id, s.stay_id, s.id, 'Benchmark request', 'guest',
           s.room_number, s.first_name, s.last_name, s.guest_language, 1, now(), now()
      FROM s, o
    RETURNING *
), m AS (
    INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content, first_name, last_name,
           service_center_name, language_code, created_at, stay_id)
    SELECT c.property_id, c.id, 1, md5(random()::text), 'Guest', 'Benchmark request: two towels, please.',
           c.guest_first_name, c.guest_last_name, '', s.language_code, c.created_at, c.stay_id FROM c, s
    RETURNING *
), e AS (
    INSERT INTO events (property_id, type, conversation_id, conversation_code, outlet_id, stay_id,
                        guest_identifier, data)
    SELECT c.property_id, 'conversation.created', c.id, c.code, c.outlet_id, c.stay_id,
           c.guest_identifier, '{"conversation": {"subject": "Benchmark request"}}'::jsonb FROM c
    RETURNING property_id
)
SELECT c.id, c.code, m.id, m.code, pg_notify('bellhop_events', e.property_id::text)
  FROM c JOIN m ON m.conversation_id = c.id, e;
