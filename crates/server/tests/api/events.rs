//! Live events (API section 11): the ordered log, and the two streams.

use std::collections::{HashMap, HashSet};

use bellhop_domain::{
    conversation::Viewer,
    events::{EventCursor, EventLog, EventPayload},
    staff::StaffScope,
};
use bellhop_persistence::PgStore;
use futures_util::future::join_all;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::*;

const STAFF: &str = "demo-staff-key";

fn staff_path(code: &str, action: &str) -> String {
    format!("/staff/v1/conversations/{code}/{action}")
}

async fn property_id(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT id FROM properties WHERE code = 'DEMO-HOTEL'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Many writers on a few conversations, and a reader that reads a small batch, drops it and
/// resumes from its last cursor until the writers are done: it gets every event exactly once,
/// and each conversation's messages in `seq` order.
#[bellhop_testdb::test]
async fn a_resuming_reader_gets_every_event_once_in_commit_order(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let mut codes = Vec::new();
    for n in 0..4 {
        codes.push(
            app.start_conversation(&ada, json!({"message": format!("Conversation {n}")}))
                .await,
        );
    }
    let store = PgStore::new(pool.clone());
    let viewer = Viewer::Staff(StaffScope {
        property_id: property_id(&pool).await,
        outlet_ids: None,
    });
    let done = std::sync::atomic::AtomicBool::new(false);

    let writers = join_all((0..8).map(|writer| {
        let app = &app;
        let codes = &codes;
        let ada = &ada;
        async move {
            for step in 0..50 {
                let code = &codes[(writer + step) % codes.len()];
                match (writer * 7 + step) % 10 {
                    0..=4 => {
                        app.staff_post(
                            &staff_path(code, "messages"),
                            STAFF,
                            json!({"content": "Hi"}),
                        )
                        .await;
                    }
                    5 | 6 => {
                        app.post_json(
                            &format!("{CREATE}/{code}/Messages"),
                            json!({"sessionToken": ada, "message": "Hello"}),
                        )
                        .await;
                    }
                    7 => {
                        app.staff_post(&staff_path(code, "read"), STAFF, json!({}))
                            .await;
                    }
                    8 => {
                        app.staff_post(&staff_path(code, "close"), STAFF, json!({}))
                            .await;
                    }
                    _ => {
                        app.staff_post(&staff_path(code, "reopen"), STAFF, json!({}))
                            .await;
                    }
                }
            }
        }
    }));
    let reader = async {
        let mut cursor = EventCursor { xid: 0, id: 0 };
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now();
        loop {
            let writers_done = done.load(std::sync::atomic::Ordering::SeqCst);
            let batch = store.read_events(&viewer, cursor, 7).await.unwrap();
            if let Some(last) = batch.last() {
                cursor = EventCursor::parse(&last.cursor.encode()).unwrap();
            }
            let empty = batch.is_empty();
            seen.extend(batch);
            if empty {
                // Once the writers are done, read until the log is drained. (Another
                // transaction of the shared test cluster may hold the readable prefix back.)
                if writers_done && seen.len() >= app.count("events").await as usize {
                    break;
                }
                assert!(
                    deadline.elapsed().as_secs() < 120,
                    "the reader never caught up"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        seen
    };
    let writers = async {
        writers.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let ((), seen) = tokio::join!(writers, reader);

    let all: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let ids: Vec<i64> = seen.iter().map(|e| e.cursor.id).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "an event came twice"
    );
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, all, "the reader got every event");
    let messages = seen
        .iter()
        .filter(|e| matches!(e.payload, EventPayload::MessageCreated(_)))
        .count();
    assert!(messages > 80, "only {messages} message events");

    let mut last_seq: HashMap<&str, i32> = HashMap::new();
    for event in &seen {
        let seq = match &event.payload {
            EventPayload::ConversationCreated(c) => c.messages[0].seq,
            EventPayload::MessageCreated(m) => m.seq,
            _ => continue,
        };
        let last = last_seq.entry(&event.conversation_code).or_insert(0);
        if seq != *last + 1 {
            let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
                "SELECT id, xid::text, type, data->'message'->>'seq' FROM events
                  WHERE conversation_code = $1 ORDER BY xid, id",
            )
            .bind(&event.conversation_code)
            .fetch_all(&pool)
            .await
            .unwrap();
            eprintln!("{rows:#?}");
        }
        assert_eq!(
            seq,
            *last + 1,
            "messages of {} out of order",
            event.conversation_code
        );
        *last = seq;
    }
}
