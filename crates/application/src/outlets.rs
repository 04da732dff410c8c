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
