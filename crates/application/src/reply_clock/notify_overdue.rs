//! One run of the overdue job: every conversation due by now gets its `conversation.overdue`.

use bellhop_domain::event::ConversationEvent;
use tracing::instrument;

use super::{OverdueService, BATCH};
use crate::error::AppResult;

impl OverdueService {
    /// Claims due conversations in batches until a claim comes back empty; returns the events
    /// emitted.
    ///
    /// Not "until a batch comes back short": runs of several instances that meet claim from
    /// the same first conversations due and share them, so each may get a short batch while
    /// more are due behind them. A run that claimed anything asks again; so the last run to
    /// claim finds what is left, and no due conversation waits for the next tick.
    #[instrument(skip_all)]
    pub async fn notify_overdue(&self) -> AppResult<Vec<ConversationEvent>> {
        let now = self.clock.now();
        let mut emitted = Vec::new();
        loop {
            let batch = self.repository.notify_overdue(now, BATCH).await?;
            if batch.is_empty() {
                return Ok(emitted);
            }
            emitted.extend(batch);
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
    async fn a_run_claims_batches_at_the_clocks_time_until_one_comes_back_empty() {
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
            .returning(|_, _| Ok(vec![overdue("SHORT")]));
        // A short batch is not the end: another instance may have taken part of the window.
        repository
            .expect_notify_overdue()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(vec![overdue("LAST")]));
        repository
            .expect_notify_overdue()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(Vec::new()));
        let service = OverdueService::new(Arc::new(repository), Arc::new(ManualClock::new(now)));
        let emitted = service.notify_overdue().await.unwrap();
        assert_eq!(emitted.len() as i64, BATCH + 2);
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
