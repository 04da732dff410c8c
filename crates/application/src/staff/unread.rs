//! Unread counts per outlet of the key.

use bellhop_domain::staff::{OutletUnread, StaffKey};
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

impl StaffService {
    #[instrument(skip_all)]
    pub async fn unread(&self, key: &StaffKey) -> AppResult<Vec<OutletUnread>> {
        Ok(self.staff.unread_by_outlet(&key.scope).await?)
    }
}
