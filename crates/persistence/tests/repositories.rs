//! Repository integration tests against real PostgreSQL (one fresh database per test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bellhop_application::reference_data::ReferenceDataService;
use bellhop_domain::{
    conversation::{
        Conversation, ConversationEvent, ConversationLabels, ConversationStatus, GuestDetails,
        GuestOwner, Message, MessageType, NewConversation, NewMessage, Side, Viewer,
    },
    idempotency::Created,
    naming::ConversationType,
    paging::Page,
    ports::{
        ConversationRepository, NewSession, PropertyRepository, SessionRepository, StayRepository,
    },
    session::GuestIdentity,
    DomainError, RepositoryError,
};
use bellhop_persistence::PgStore;
use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

async fn create(store: &PgStore, new: NewConversation) -> Result<Conversation, RepositoryError> {
    match store.create_conversation(new, None).await? {
        Created::New(written) => Ok(written.record),
        Created::Replayed(_) => panic!("nothing to replay without a key"),
    }
}

async fn add(
    store: &PgStore,
    viewer: &Viewer,
    code: &str,
    message: NewMessage,
) -> Result<Message, RepositoryError> {
    match store.add_message(viewer, code, message, None).await? {
        Created::New(written) => Ok(written.record),
        Created::Replayed(_) => panic!("nothing to replay without a key"),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 11, 0, 0)
        .single()
        .unwrap()
}

async fn demo(pool: &PgPool) -> (PgStore, i64, i64, i64) {
    let store = PgStore::new(pool.clone());
    ReferenceDataService::new(Arc::new(store.clone()))
        .load_demo(now())
        .await
        .unwrap();
    let property = store
        .find_property_by_code("DEMO-HOTEL")
        .await
        .unwrap()
        .unwrap();
    let stay = store
        .in_house_stays_in_room(property.id, "101", now())
        .await
        .unwrap()
        .remove(0);
    let outlet = store
        .list_outlets(property.id)
        .await
        .unwrap()
        .iter()
        .find(|o| o.code == "ROOMSVC")
        .unwrap()
        .clone();
    (store, property.id, stay.id, outlet.id)
}

fn message(code: &str, kind: MessageType, at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        code: code.into(),
        message_type: kind,
        content: "Hello there".into(),
        first_name: String::new(),
        last_name: String::new(),
        service_center_name: String::new(),
        language_code: "en".into(),
        created_at: at,
        automatic: false,
        arrival: None,
    }
}

fn conversation(property_id: i64, stay_id: i64, outlet_id: i64, code: &str) -> NewConversation {
    NewConversation {
        property_id,
        code: code.into(),
        outlet_id,
        order_id: None,
        labels: ConversationLabels {
            outlet_code: "ROOMSVC".into(),
            outlet_name: "In-Room Dining".into(),
            order_code: None,
            property_code: "DEMO-HOTEL".into(),
        },
        owner: GuestOwner::Stay(stay_id),
        session_id: None,
        subject: "Hello there".into(),
        conversation_type: ConversationType::Unsigned,
        guest: GuestDetails {
            room_number: Some("101".into()),
            ..Default::default()
        },
        order_form_details: None,
        first_message: message(&format!("{code}-first-message"), MessageType::Guest, now()),
    }
}

#[bellhop_testdb::test]
async fn outlets_come_back_in_display_order_with_their_hours(pool: PgPool) {
    let (store, property_id, _, _) = demo(&pool).await;
    let outlets = store.list_outlets(property_id).await.unwrap();
    let codes: Vec<&str> = outlets.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(codes, ["SPA", "ROOMSVC", "BAR", "CONCIERGE", "POOLBAR"]);
    assert_eq!(outlets[2].opening_hours.len(), 7);
    assert!(outlets[1].opening_hours.is_empty());
}

#[bellhop_testdb::test]
async fn a_conversation_and_its_first_message_are_stored_together(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    let created = create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0001"),
    )
    .await
    .unwrap();
    assert_eq!(created.outlet_code, "ROOMSVC");
    assert_eq!(created.messages.len(), 1);
    assert_eq!(created.messages[0].seq, 1);
    assert_eq!(created.messages[0].created_at, now());
    let viewer = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(stay_id),
    };
    let fetched = store
        .get_conversation(&viewer, "conversation-code-0001", None)
        .await
        .unwrap();
    assert_eq!(fetched.messages, created.messages);
}

#[bellhop_testdb::test]
async fn a_failure_between_the_two_inserts_leaves_neither_row(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail_message() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'injected fault'; END $$;
         CREATE TRIGGER fail_message BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION fail_message();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let result = create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0002"),
    )
    .await;
    assert!(matches!(result, Err(RepositoryError::Unexpected(_))));
    let conversations: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((conversations, messages), (0, 0));
}

#[bellhop_testdb::test]
async fn concurrent_messages_get_consecutive_sequence_numbers(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0003"),
    )
    .await
    .unwrap();
    let viewer = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(stay_id),
    };
    let writes = (0..25).map(|i| {
        let store = store.clone();
        let viewer = viewer.clone();
        tokio::spawn(async move {
            add(
                &store,
                &viewer,
                "conversation-code-0003",
                message(&format!("message-code-{i:08}"), MessageType::Guest, now()),
            )
            .await
        })
    });
    for write in futures_util::future::join_all(writes).await {
        write.unwrap().unwrap();
    }
    let seqs: Vec<i32> = sqlx::query_scalar("SELECT seq FROM messages ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(seqs, (1..=26).collect::<Vec<_>>());
}

#[bellhop_testdb::test]
async fn read_positions_never_move_back(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0004"),
    )
    .await
    .unwrap();
    let guest = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(stay_id),
    };
    let staff = Viewer::Staff(bellhop_domain::staff::StaffScope {
        property_id,
        outlet_ids: None,
    });
    let first = add(
        &store,
        &staff,
        "conversation-code-0004",
        message("staff-message-0001", MessageType::ServiceCenter, now()),
    )
    .await
    .unwrap();
    let second = add(
        &store,
        &staff,
        "conversation-code-0004",
        message("staff-message-0002", MessageType::ServiceCenter, now()),
    )
    .await
    .unwrap();
    let moved = store
        .mark_read(&guest, "conversation-code-0004", Some(second.code.clone()))
        .await
        .unwrap();
    assert_eq!(
        moved,
        vec![ConversationEvent::Read {
            conversation_code: "conversation-code-0004".into(),
            read_by: Side::Guest,
            last_read_message_code: second.code.clone(),
        }]
    );
    let back = store
        .mark_read(&guest, "conversation-code-0004", Some(first.code.clone()))
        .await
        .unwrap();
    assert!(back.is_empty(), "a position that does not move is no event");
    let seen = store
        .get_conversation(&guest, "conversation-code-0004", None)
        .await
        .unwrap();
    assert!(seen
        .messages
        .iter()
        .filter(|m| m.message_type == MessageType::ServiceCenter)
        .all(|m| m.is_read));
    assert_eq!(seen.unread_count, 0);
    let unknown = store
        .mark_read(
            &guest,
            "conversation-code-0004",
            Some("no-such-message-code".into()),
        )
        .await;
    assert!(matches!(
        unknown,
        Err(RepositoryError::Domain(DomainError::MessageNotFound))
    ));
}

#[bellhop_testdb::test]
async fn another_guests_view_does_not_find_the_conversation(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0005"),
    )
    .await
    .unwrap();
    let other = store
        .in_house_stays_in_room(property_id, "102", now())
        .await
        .unwrap()
        .remove(0);
    let viewer = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(other.id),
    };
    for result in [
        store
            .get_conversation(&viewer, "conversation-code-0005", None)
            .await
            .map(|_| ()),
        add(
            &store,
            &viewer,
            "conversation-code-0005",
            message("other-message-001", MessageType::Guest, now()),
        )
        .await
        .map(|_| ()),
        store
            .mark_read(&viewer, "conversation-code-0005", None)
            .await
            .map(|_| ()),
        store
            .set_status(
                &viewer,
                "conversation-code-0005",
                ConversationStatus::Closed,
                now(),
            )
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(
            result,
            Err(RepositoryError::Domain(DomainError::ConversationNotFound))
        ));
    }
    assert!(store
        .list_conversations(
            &viewer,
            Page {
                number: 1,
                length: 10
            }
        )
        .await
        .unwrap()
        .is_empty());
}

#[bellhop_testdb::test]
async fn a_closed_conversation_refuses_a_staff_message_and_a_guest_message_reopens_it(
    pool: PgPool,
) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0006"),
    )
    .await
    .unwrap();
    let viewer = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(stay_id),
    };
    let closed = store
        .set_status(
            &viewer,
            "conversation-code-0006",
            ConversationStatus::Closed,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        closed,
        vec![ConversationEvent::Closed {
            conversation_code: "conversation-code-0006".into()
        }]
    );
    let again = store
        .set_status(
            &viewer,
            "conversation-code-0006",
            ConversationStatus::Closed,
            now(),
        )
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "closing a closed conversation is no event"
    );
    let staff = Viewer::Staff(bellhop_domain::staff::StaffScope {
        property_id,
        outlet_ids: None,
    });
    let result = add(
        &store,
        &staff,
        "conversation-code-0006",
        message("late-message-0001", MessageType::ServiceCenter, now()),
    )
    .await;
    assert!(matches!(
        result,
        Err(RepositoryError::Domain(DomainError::ConversationClosed))
    ));
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(messages, 1);
    // Section 14: the guest's message reopens it, and says so first.
    let result = store
        .add_message(
            &viewer,
            "conversation-code-0006",
            message("late-message-0002", MessageType::Guest, now()),
            None,
        )
        .await;
    let Ok(Created::New(written)) = result else {
        panic!("the guest's message is added");
    };
    assert_eq!(
        written.events[0],
        ConversationEvent::Reopened {
            conversation_code: "conversation-code-0006".into()
        }
    );
    assert_eq!(written.events[1].type_name(), "message.created");
    assert_eq!(written.events.len(), 2);
    let status: String = sqlx::query_scalar("SELECT status FROM conversations WHERE code = $1")
        .bind("conversation-code-0006")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "Open");
}

#[bellhop_testdb::test]
async fn a_login_replaces_a_session_once(pool: PgPool) {
    let (store, property_id, stay_id, _) = demo(&pool).await;
    let old = store
        .create_session(NewSession {
            id: Uuid::new_v4(),
            property_id,
            identity: GuestIdentity::Anonymous,
            language_code: "en".into(),
            explicit_language: None,
            created_at: now(),
        })
        .await
        .unwrap();
    let new = |id| NewSession {
        id,
        property_id,
        identity: GuestIdentity::Verified { stay_id },
        language_code: "en".into(),
        explicit_language: None,
        created_at: now(),
    };
    let replaced = store
        .replace_session(old.id, new(Uuid::new_v4()), now())
        .await
        .unwrap();
    assert_eq!(
        replaced.stay.map(|s| s.check_out),
        Some(now() + Duration::days(3))
    );
    let again = store
        .replace_session(old.id, new(Uuid::new_v4()), now())
        .await;
    assert!(matches!(
        again,
        Err(RepositoryError::Domain(DomainError::SessionExpired))
    ));
    let ended = store
        .find_session(property_id, old.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.ended_at, Some(now()));
}

#[bellhop_testdb::test]
async fn purging_deletes_only_long_ended_sessions(pool: PgPool) {
    let (store, property_id, _, _) = demo(&pool).await;
    for age_days in [1, 40] {
        let at = now() - Duration::days(age_days);
        store
            .create_session(NewSession {
                id: Uuid::new_v4(),
                property_id,
                identity: GuestIdentity::Anonymous,
                language_code: "en".into(),
                explicit_language: None,
                created_at: at,
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .purge_sessions(now() - Duration::days(30), 100)
            .await
            .unwrap(),
        1
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[bellhop_testdb::test]
async fn a_violated_named_constraint_is_its_domain_error(pool: PgPool) {
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    create(
        &store,
        conversation(property_id, stay_id, outlet_id, "conversation-code-0007"),
    )
    .await
    .unwrap();
    let viewer = Viewer::Guest {
        property_id,
        owner: GuestOwner::Stay(stay_id),
    };
    let mut long = message("long-message-00001", MessageType::Guest, now());
    long.content = "x".repeat(4001);
    let result = add(&store, &viewer, "conversation-code-0007", long).await;
    assert!(matches!(
        result,
        Err(RepositoryError::Domain(DomainError::MessageTooLong {
            max: 4000
        }))
    ));
}

#[bellhop_testdb::test]
async fn the_staff_list_filters_by_status_and_unread(pool: PgPool) {
    use bellhop_domain::{
        ports::StaffRepository,
        staff::{StaffConversationFilter, StaffScope},
    };
    let (store, property_id, stay_id, outlet_id) = demo(&pool).await;
    for code in ["conversation-code-0008", "conversation-code-0009"] {
        create(&store, conversation(property_id, stay_id, outlet_id, code))
            .await
            .unwrap();
    }
    let scope = StaffScope {
        property_id,
        outlet_ids: None,
    };
    let staff = Viewer::Staff(scope.clone());
    store
        .mark_read(&staff, "conversation-code-0008", None)
        .await
        .unwrap();
    store
        .set_status(
            &staff,
            "conversation-code-0009",
            ConversationStatus::Closed,
            now(),
        )
        .await
        .unwrap();
    let codes = |filter: StaffConversationFilter| {
        let (store, scope) = (store.clone(), scope.clone());
        async move {
            store
                .list_staff_conversations(&scope, &filter, None, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.code)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        codes(StaffConversationFilter {
            unread_only: true,
            ..Default::default()
        })
        .await,
        vec!["conversation-code-0009".to_owned()]
    );
    assert_eq!(
        codes(StaffConversationFilter {
            status: Some(ConversationStatus::Open),
            ..Default::default()
        })
        .await,
        vec!["conversation-code-0008".to_owned()]
    );
}

#[bellhop_testdb::test]
async fn an_order_whose_outlet_is_not_in_its_property_is_refused_by_position(pool: PgPool) {
    use bellhop_application::reference_data::{demo_file, validate};
    use bellhop_domain::{
        ports::ReferenceDataRepository,
        reference::{OrderData, ReferenceEntity, ReferenceField, RejectedEntry},
    };
    let store = PgStore::new(pool.clone());
    let mut data = validate(&demo_file(now())).unwrap();
    let stay_code = data.properties[0].stays[0].code.clone();
    data.properties[0].orders.push(OrderData {
        code: "ORD-NOWHERE".into(),
        outlet_code: "NO-SUCH-OUTLET".into(),
        stay_code,
    });
    let index = data.properties[0].orders.len() - 1;
    let result = store.load_reference_data(&data).await;
    assert!(
        matches!(
            result,
            Err(RepositoryError::Domain(DomainError::ReferenceRejected(RejectedEntry {
                property: 0,
                entity: ReferenceEntity::Order,
                index: i,
                field: ReferenceField::OutletOrStayCode,
            }))) if i == index
        ),
        "{result:?}"
    );
    let message = ReferenceDataService::new(Arc::new(store))
        .load(&data)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        format!(
            "properties[0].orders[{index}] (ORD-NOWHERE): outletCode \"NO-SUCH-OUTLET\" or stayCode \"{}\" is not in property DEMO-HOTEL.",
            data.properties[0].stays[0].code
        )
    );
}
