//! A staff key from its bearer secret.

use bellhop_domain::{staff::StaffKey, DomainError};
use tracing::instrument;

use super::StaffService;
use crate::{error::AppResult, secrets::hash_secret};

impl StaffService {
    /// The enabled key behind a bearer secret, or `StaffKeyInvalid`.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, secret: &str) -> AppResult<StaffKey> {
        if secret.is_empty() {
            return Err(DomainError::StaffKeyInvalid.into());
        }
        self.staff
            .find_staff_key(hash_secret(secret))
            .await?
            .ok_or_else(|| DomainError::StaffKeyInvalid.into())
    }
}
