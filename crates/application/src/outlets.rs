//! Outlet settings as the guest app shows them.

use std::sync::Arc;

use bellhop_domain::{clock::Clock, outlet::Outlet, ports::PropertyRepository, DomainError};
use tracing::instrument;

use crate::error::{AppError, AppResult};

/// An outlet with whether it is open now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutletSettings {
    pub outlet: Outlet,
    pub is_open_now: bool,
}

#[derive(Clone)]
pub struct OutletService {
    properties: Arc<dyn PropertyRepository>,
    clock: Arc<dyn Clock>,
}

impl OutletService {
    pub fn new(properties: Arc<dyn PropertyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { properties, clock }
    }

    /// The property's active outlets in display order, or only the one named by `code`
    /// (`OutletNotFound` when unknown or inactive).
    #[instrument(skip(self))]
    pub async fn settings(
        &self,
        property_id: i64,
        code: Option<&str>,
    ) -> AppResult<Vec<OutletSettings>> {
        let property = self
            .properties
            .get_property(property_id)
            .await?
            .ok_or_else(|| AppError::internal("a session refers to a missing property"))?;
        let now = self.clock.now();
        let settings: Vec<OutletSettings> = self
            .properties
            .list_outlets(property_id)
            .await?
            .iter()
            .filter(|o| o.active && code.is_none_or(|code| o.code == code))
            .map(|outlet| OutletSettings {
                is_open_now: outlet.is_open_at(property.time_zone, now),
                outlet: outlet.clone(),
            })
            .collect();
        if code.is_some() && settings.is_empty() {
            return Err(DomainError::OutletNotFound.into());
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::{ports::MockPropertyRepository, ErrorCode};
    use chrono::Utc;

    fn outlet(code: &str, active: bool) -> Outlet {
        Outlet {
            id: 1,
            property_id: 1,
            code: code.into(),
            name: code.into(),
            description: String::new(),
            display_order: 1,
            active,
            allow_guest_messages: true,
            allow_non_verified_guests: true,
            service_center_name: String::new(),
            opening_hours: vec![],
            reply_target_minutes: None,
            out_of_hours_reply: None,
        }
    }

    fn service() -> OutletService {
        let mut properties = MockPropertyRepository::new();
        properties
            .expect_get_property()
            .returning(|id| Ok(Some(crate::testing::demo_property(id))));
        properties
            .expect_list_outlets()
            .returning(|_| Ok(Arc::new(vec![outlet("BAR", true), outlet("SPA", false)])));
        OutletService::new(Arc::new(properties), Arc::new(ManualClock::new(Utc::now())))
    }

    #[tokio::test]
    async fn settings_list_the_active_outlets_open_when_they_have_no_hours() {
        let settings = service().settings(1, None).await.unwrap();
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].outlet.code, "BAR");
        assert!(settings[0].is_open_now);
    }

    #[tokio::test]
    async fn an_inactive_or_unknown_outlet_code_is_not_found() {
        for code in ["SPA", "NOPE"] {
            let error = service().settings(1, Some(code)).await.unwrap_err();
            assert_eq!(error.code(), ErrorCode::OutletNotFound);
        }
    }
}
