//! One run of the overdue job: every conversation due by now gets its `conversation.overdue`.

use bellhop_domain::event::ConversationEvent;
use tracing::instrument;

use super::{OverdueService, BATCH};
use crate::error::AppResult;

impl OverdueService {
    /// Claims due conversations in batches until a batch comes back short (nothing more is
    /// due, or what is left is being handled elsewhere); returns the events emitted.
    #[instrument(skip_all)]
    pub async fn notify_overdue(&self) -> AppResult<Vec<ConversationEvent>> {
        let now = self.clock.now();
        let mut emitted = Vec::new();
        loop {
            let batch = self.repository.notify_overdue(now, BATCH).await?;
            let full = batch.len() as i64 >= BATCH;
            emitted.extend(batch);
            if !full {
                return Ok(emitted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bellhop_domain::ports::MockOverdueRepository;
    use chrono::{TimeZone, Utc};
    use mockall::Sequence;

    use super::*;
    use crate::clock::ManualClock;

    fn overdue(code: &str) -> ConversationEvent {
        ConversationEvent::Overdue {
            conversation_code: code.into(),
            reply_due_at: Utc.with_ymd_and_hms(2026, 6, 10, 11, 0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_run_claims_batches_at_the_clocks_time_until_one_comes_back_short() {
        let now = Utc.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap();
        let mut repository = MockOverdueRepository::new();
        let mut order = Sequence::new();
        repository
            .expect_notify_overdue()
            .withf(move |at, batch| *at == now && *batch == BATCH)
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, batch| Ok((0..batch).map(|i| overdue(&format!("C{i}"))).collect()));
        repository
            .expect_notify_overdue()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(vec![overdue("LAST")]));
        let service = OverdueService::new(Arc::new(repository), Arc::new(ManualClock::new(now)));
        let emitted = service.notify_overdue().await.unwrap();
        assert_eq!(emitted.len() as i64, BATCH + 1);
        assert_eq!(
            emitted.last().map(ConversationEvent::conversation_code),
            Some("LAST")
        );
    }

    #[tokio::test]
    async fn a_run_with_nothing_due_asks_once() {
        let mut repository = MockOverdueRepository::new();
        repository
            .expect_notify_overdue()
            .times(1)
            .returning(|_, _| Ok(Vec::new()));
        let service =
            OverdueService::new(Arc::new(repository), Arc::new(ManualClock::new(Utc::now())));
        assert!(service.notify_overdue().await.unwrap().is_empty());
    }
}
