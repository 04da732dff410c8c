//! `GET /staff/v1/me`: who the calling key is.

use bellhop_domain::staff::StaffKey;
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

/// The calling key as a staff member: its code (`None` for a key that is no member), name,
/// property and outlets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffProfile {
    pub code: Option<String>,
    pub display_name: String,
    pub property_code: String,
    /// The property's IANA time zone.
    pub time_zone: String,
    /// The key's active outlets (every active outlet for an unlimited key), in display order.
    pub outlets: Vec<String>,
}

impl StaffService {
    #[instrument(skip_all)]
    pub async fn me(&self, key: &StaffKey) -> AppResult<StaffProfile> {
        let property = self.property(key).await?;
        let outlets = self
            .properties
            .list_outlets(property.id)
            .await?
            .iter()
            .filter(|o| o.active && key.scope.covers(o.id))
            .map(|o| o.code.clone())
            .collect();
        Ok(StaffProfile {
            code: key.code.clone(),
            display_name: key.display_name.clone(),
            property_code: property.code,
            time_zone: property.time_zone.name().to_owned(),
            outlets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{key, service_default};

    #[tokio::test]
    async fn me_names_the_member_its_property_and_its_active_outlets() {
        let service = service_default();
        let everywhere = service.me(&key(None)).await.unwrap();
        assert_eq!(everywhere.code.as_deref(), Some("sam"));
        assert_eq!(everywhere.display_name, "Sam");
        assert_eq!(everywhere.property_code, "DEMO-HOTEL");
        assert_eq!(everywhere.time_zone, "Europe/London");
        // SPA (id 3) is inactive in the fixture.
        assert_eq!(everywhere.outlets, ["ROOMSVC", "BAR"]);
        let bar = service.me(&key(Some(vec![4]))).await.unwrap();
        assert_eq!(bar.outlets, ["BAR"]);
        let mut anonymous = key(None);
        anonymous.code = None;
        assert_eq!(service.me(&anonymous).await.unwrap().code, None);
    }
}
