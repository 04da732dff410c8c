//! The reply clock and out-of-hours replies (API section 14): `awaitingReplySince`,
//! `replyDueAt`, `overdue` and its filter on staff views, `conversation.overdue` on the staff
//! stream only and once, from one instance among several, and the automatic out-of-hours reply.

use std::{collections::HashMap, sync::Arc};

use bellhop_application::{clock::ManualClock, reply_clock::OverdueService};
use bellhop_domain::events::EventLog;
use bellhop_persistence::PgStore;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::events::{serve, Process, Sse};
use crate::helpers::*;

const STAFF: &str = "demo-staff-key";

fn staff_conversation(code: &str) -> String {
    format!("/staff/v1/conversations/{code}")
}

fn date(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .unwrap()
            .with_timezone(&Utc)
    })
}

/// The overdue job as a server process runs it, on a clock of the test's choosing.
fn job(pool: &PgPool, at: DateTime<Utc>) -> OverdueService {
    OverdueService::new(
        Arc::new(PgStore::new(pool.clone())),
        Arc::new(ManualClock::new(at)),
    )
}

/// 17:00 in London (BST) on the day of [`midday`]: the bar opens.
fn bar_opens() -> DateTime<Utc> {
    evening() - Duration::hours(1)
}

async fn set_out_of_hours_reply(pool: &PgPool, outlet: &str, text: Option<&str>) {
    sqlx::query(
        "UPDATE outlets SET out_of_hours_reply = $3
          WHERE property_id = (SELECT id FROM properties WHERE code = $1) AND code = $2",
    )
    .bind("DEMO-HOTEL")
    .bind(outlet)
    .bind(text)
    .execute(pool)
    .await
    .unwrap();
}

#[bellhop_testdb::test]
async fn a_guest_waits_from_the_first_message_until_staff_answer_and_is_overdue_from_the_due_time(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let reply = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "Two towels, please"}),
        )
        .await;
    reply.assert_ok();
    let conversation = reply.conversation().clone();
    let code = conversation["code"].as_str().unwrap().to_owned();
    // The guest's shapes are the seed's: no reply clock, no `automatic`.
    assert!(conversation.get("replyDueAt").is_none());
    assert!(conversation["messages"][0].get("automatic").is_none());

    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    let c = &view.body["conversation"];
    // ROOMSVC: a 10-minute target, no hours (always open).
    assert_eq!(date(&c["awaitingReplySince"]), Some(midday()));
    assert_eq!(
        date(&c["replyDueAt"]),
        Some(midday() + Duration::minutes(10))
    );
    assert_eq!(c["overdue"], json!(false));
    assert_eq!(c["messages"][0]["automatic"], json!(false));

    // A second guest message does not move the clock.
    app.clock.advance(Duration::minutes(4));
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": ada, "message": "And soap"}),
    )
    .await
    .assert_ok();
    let list = app.staff_get("/staff/v1/conversations", STAFF).await;
    let item = &list.body["conversations"][0];
    assert_eq!(
        date(&item["replyDueAt"]),
        Some(midday() + Duration::minutes(10))
    );
    assert_eq!(item["lastMessage"]["automatic"], json!(false));
    let overdue = app
        .staff_get("/staff/v1/conversations?overdue=true", STAFF)
        .await;
    assert_eq!(overdue.body["conversations"], json!([]));

    app.clock.advance(Duration::minutes(6));
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    assert_eq!(view.body["conversation"]["overdue"], json!(true));
    let overdue = app
        .staff_get("/staff/v1/conversations?overdue=true", STAFF)
        .await;
    assert_eq!(overdue.body["conversations"][0]["code"], json!(code));
    assert_eq!(overdue.body["conversations"][0]["overdue"], json!(true));

    // A staff answer ends the waiting.
    let answer = app
        .staff_post(
            &format!("{}/messages", staff_conversation(&code)),
            STAFF,
            json!({"content": "On their way"}),
        )
        .await;
    answer.assert_ok();
    assert_eq!(answer.body["message"]["automatic"], json!(false));
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    let c = &view.body["conversation"];
    assert_eq!(c["awaitingReplySince"], Value::Null);
    assert_eq!(c["replyDueAt"], Value::Null);
    assert_eq!(c["overdue"], json!(false));
    let overdue = app
        .staff_get("/staff/v1/conversations?overdue=true", STAFF)
        .await;
    assert_eq!(overdue.body["conversations"], json!([]));

    // The next guest message starts a new waiting period.
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": ada, "message": "Thanks! Also a pillow"}),
    )
    .await
    .assert_ok();
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    let now = midday() + Duration::minutes(10);
    assert_eq!(
        date(&view.body["conversation"]["awaitingReplySince"]),
        Some(now)
    );
    assert_eq!(
        date(&view.body["conversation"]["replyDueAt"]),
        Some(now + Duration::minutes(10))
    );
}

#[bellhop_testdb::test]
async fn closing_ends_the_waiting_and_staff_started_conversations_do_not_wait(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Late checkout?"}))
        .await;
    app.staff_post(
        &format!("{}/close", staff_conversation(&code)),
        STAFF,
        json!({}),
    )
    .await
    .assert_ok();
    let reopened = app
        .staff_post(
            &format!("{}/reopen", staff_conversation(&code)),
            STAFF,
            json!({}),
        )
        .await;
    reopened.assert_ok();
    assert_eq!(
        reopened.body["conversation"]["awaitingReplySince"],
        Value::Null
    );
    assert_eq!(reopened.body["conversation"]["replyDueAt"], Value::Null);

    let started = app
        .staff_post(
            "/staff/v1/conversations",
            STAFF,
            json!({"roomNumber": "102", "outletCode": "CONCIERGE", "content": "Your taxi is here"}),
        )
        .await;
    started.assert_ok();
    assert_eq!(
        started.body["conversation"]["awaitingReplySince"],
        Value::Null
    );
    assert_eq!(started.body["conversation"]["overdue"], json!(false));
}

#[bellhop_testdb::test]
async fn only_the_outlets_open_time_counts_toward_the_target(pool: PgPool) {
    // Midday in June: the bar (17:00–01:00 London, 5 minutes) is closed until 17:00 BST.
    let app = spawn(pool.clone()).await;
    let visitor = app.visitor("visitor-reply-clock").await;
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": visitor, "message": "A table for two tonight?", "outletCode": "BAR"}),
        )
        .await;
    reply.assert_ok();
    let code = reply.conversation()["code"].as_str().unwrap().to_owned();
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    assert_eq!(
        date(&view.body["conversation"]["replyDueAt"]),
        Some(bar_opens() + Duration::minutes(5))
    );
    // No out-of-hours reply is configured in the demo: one message only.
    assert_eq!(
        reply.conversation()["messages"].as_array().unwrap().len(),
        1
    );
}

#[bellhop_testdb::test]
async fn a_guest_writing_while_the_outlet_is_closed_gets_the_out_of_hours_reply_once_per_waiting_period(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    set_out_of_hours_reply(
        &pool,
        "BAR",
        Some("The bar opens at 17:00; we will answer then."),
    )
    .await;
    let ada = app.ada().await;
    let reply = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "Is the bar open?", "outletCode": "BAR"}),
        )
        .await;
    reply.assert_ok();
    let conversation = reply.conversation().clone();
    let code = conversation["code"].as_str().unwrap().to_owned();
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{conversation}");
    let automatic = &messages[1];
    assert_eq!(automatic["messageType"], json!("ServiceCenter"));
    assert_eq!(
        automatic["content"],
        json!("The bar opens at 17:00; we will answer then.")
    );
    assert_eq!(automatic["serviceCenterName"], json!("Bar Team"));
    assert_eq!(automatic["firstName"], json!(""));
    assert_eq!(automatic["lastName"], json!(""));
    assert_eq!(automatic["isRead"], json!(false));
    assert!(
        automatic.get("automatic").is_none(),
        "guest shapes are unchanged"
    );
    assert_eq!(
        messages[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        automatic.as_object().unwrap().keys().collect::<Vec<_>>()
    );

    // Staff see it marked; it does not stop the clock.
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    let c = &view.body["conversation"];
    assert_eq!(c["messages"][0]["automatic"], json!(false));
    assert_eq!(c["messages"][1]["automatic"], json!(true));
    assert_eq!(date(&c["awaitingReplySince"]), Some(midday()));
    assert_eq!(
        date(&c["replyDueAt"]),
        Some(bar_opens() + Duration::minutes(5))
    );

    // Still waiting, still closed: no second automatic reply.
    app.clock.advance(Duration::minutes(30));
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": ada, "message": "Hello?"}),
    )
    .await
    .assert_ok();
    let view = app.staff_get(&staff_conversation(&code), STAFF).await;
    assert_eq!(
        view.body["conversation"]["messages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Staff answer; the next message while closed starts a new period and gets one again.
    app.staff_post(
        &format!("{}/messages", staff_conversation(&code)),
        STAFF,
        json!({"content": "We open at five"}),
    )
    .await
    .assert_ok();
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": ada, "message": "Great, thanks"}),
    )
    .await
    .assert_ok();
    let guest = app
        .get(&format!("{CREATE}/{code}?SessionToken={ada}"))
        .await;
    let messages = guest.content("getConversationResponse")["conversation"]["messages"]
        .as_array()
        .unwrap()
        .clone();
    let kinds: Vec<_> = messages
        .iter()
        .map(|m| m["messageType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "Guest",
            "ServiceCenter",
            "Guest",
            "ServiceCenter",
            "Guest",
            "ServiceCenter"
        ]
    );

    // While the bar is open, no automatic reply.
    app.clock.set(evening());
    let open = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "Two mojitos", "outletCode": "BAR"}),
        )
        .await;
    open.assert_ok();
    assert_eq!(open.conversation()["messages"].as_array().unwrap().len(), 1);
}

/// The job's event reaches the staff stream once, and never a guest stream.
#[bellhop_testdb::test]
async fn an_overdue_reply_is_announced_once_on_the_staff_stream_and_never_to_the_guest(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Is breakfast included?"}))
        .await;
    let addr = serve(&pool, &[]).await;
    let mut staff = Sse::open(
        addr,
        "/staff/v1/events",
        &[("Authorization", "Bearer demo-staff-key")],
    )
    .await;
    let mut guest = Sse::open(
        addr,
        &format!("/API/V40/Interactive/Messages/Events?SessionToken={ada}"),
        &[],
    )
    .await;
    staff.until("event: ready", 5).await;
    guest.until("event: ready", 5).await;

    let due = midday() + Duration::minutes(10);
    assert!(job(&pool, due - Duration::seconds(1))
        .notify_overdue()
        .await
        .unwrap()
        .is_empty());
    assert_eq!(job(&pool, due).notify_overdue().await.unwrap().len(), 1);
    assert!(job(&pool, due + Duration::minutes(1))
        .notify_overdue()
        .await
        .unwrap()
        .is_empty());

    let seen = staff.until("event: conversation.overdue", 5).await;
    let data = staff.until("\n\n", 5).await;
    assert!(seen.contains("id: "), "{seen}");
    let data: Value = serde_json::from_str(data.trim().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"type": "conversation.overdue", "conversationCode": code,
               "replyDueAt": "2026-06-10T11:10:00.0000000+00:00"})
    );

    // The guest stream is live (it gets the guest's next message) and never saw it.
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": ada, "message": "Hello?"}),
    )
    .await
    .assert_ok();
    let guest_text = guest.until("Hello?", 5).await;
    assert!(!guest_text.contains("overdue"), "{guest_text}");
    staff.until("Hello?", 5).await;
    let rest = staff.drain(500).await;
    assert!(!rest.contains("conversation.overdue"), "{rest}");
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE property_id = (SELECT id FROM properties WHERE code = 'DEMO-HOTEL') AND type = 'conversation.overdue'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
}

/// Concurrent runs over many due conversations emit one event for each, whichever run wins.
#[bellhop_testdb::test]
async fn concurrent_runs_emit_each_overdue_event_exactly_once(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let mut codes = Vec::new();
    for n in 0..150 {
        codes.push(
            app.start_conversation(&ada, json!({"message": format!("Request {n}")}))
                .await,
        );
    }
    let due = midday() + Duration::minutes(10);
    let runs = futures_util::future::join_all(
        (0..4).map(|_| async { job(&pool, due).notify_overdue().await.unwrap() }),
    )
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for event in runs.into_iter().flatten() {
        *seen
            .entry(event.conversation_code().to_owned())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), codes.len());
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(job(&pool, due).notify_overdue().await.unwrap().is_empty());
}

/// Another instance holding part of the first batch's window does not end a run early: a
/// short batch is not the end while more conversations are due behind the window.
#[bellhop_testdb::test]
async fn a_run_goes_past_conversations_another_instance_holds(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    for n in 0..150 {
        app.start_conversation(&ada, json!({"message": format!("Request {n}")}))
            .await;
        // Distinct due times, so "the first ten due" is well defined.
        app.clock.advance(Duration::seconds(1));
    }
    // Another instance, mid-run, holds the locks of the ten conversations due first.
    let mut other = pool.begin().await.unwrap();
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT f.code FROM (
             SELECT c.property_id, c.id, c.code FROM conversations c
              WHERE c.reply_due_at IS NOT NULL AND NOT c.overdue_notified
              ORDER BY c.reply_due_at LIMIT 10) f
          WHERE pg_advisory_xact_lock(hashtextextended('bellhop.conversation.' || f.property_id || '.' || f.id, 0)) IS NOT NULL",
    )
    .fetch_all(&mut *other)
    .await
    .unwrap();
    assert_eq!(held.len(), 10);
    let due = midday() + Duration::hours(2);
    let emitted = job(&pool, due).notify_overdue().await.unwrap();
    let codes: std::collections::HashSet<&str> =
        emitted.iter().map(|e| e.conversation_code()).collect();
    assert_eq!(
        codes.len(),
        emitted.len(),
        "a conversation was announced twice"
    );
    assert!(
        held.iter().all(|code| !codes.contains(code.as_str())),
        "a held conversation was announced"
    );
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM conversations WHERE reply_due_at <= $1 AND NOT overdue_notified",
    )
    .bind(due)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(waiting, 10, "only the held conversations are left");
    other.rollback().await.unwrap();
    assert_eq!(job(&pool, due).notify_overdue().await.unwrap().len(), 10);
}

/// Two `bellhop serve` processes (real clock: the demo conversations, written at midday in
/// June 2026 by the test's clock, are long overdue) emit each `conversation.overdue` once.
#[bellhop_testdb::test]
async fn two_server_processes_emit_each_overdue_event_once(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let mut codes = Vec::new();
    for n in 0..20 {
        codes.push(
            app.start_conversation(&ada, json!({"message": format!("Request {n}")}))
                .await,
        );
    }
    let from = PgStore::new(pool.clone()).current_cursor().await.unwrap();
    let (one, two) = tokio::join!(Process::start(&pool, &[]), Process::start(&pool, &[]));
    let mut stream = Sse::open(
        one.addr,
        &format!("/staff/v1/events?lastEventId={}", from.encode()),
        &[("Authorization", "Bearer demo-staff-key")],
    )
    .await;
    // Both processes tick at start and every 5 seconds: wait for every conversation's event,
    // then long enough for both to tick again.
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !codes
        .iter()
        .all(|code| text.contains(&format!("\"conversationCode\":\"{code}\"")))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "missing events: {text}"
        );
        text.push_str(&stream.drain(500).await);
    }
    text.push_str(&stream.drain(6_000).await);
    assert_eq!(
        text.matches("event: conversation.overdue").count(),
        codes.len(),
        "{text}"
    );
    drop(two);
    let per_conversation: Vec<(String, i64)> = sqlx::query_as(
        "SELECT conversation_code, count(*) FROM events
          WHERE property_id = (SELECT id FROM properties WHERE code = 'DEMO-HOTEL')
            AND type = 'conversation.overdue'
          GROUP BY conversation_code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_conversation.len(), codes.len());
    assert!(
        per_conversation.iter().all(|(_, n)| *n == 1),
        "{per_conversation:?}"
    );
}
