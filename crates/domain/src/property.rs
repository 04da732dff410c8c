//! A property: one hotel, the tenant every other record belongs to.

use chrono_tz::Tz;

/// The database id of a property; every tenant row carries it.
pub type PropertyId = i64;

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub id: PropertyId,
    pub code: String,
    pub name: String,
    pub brand_code: String,
    pub group_code: String,
    pub time_zone: Tz,
    pub default_language: String,
}
