//! An in-process cache of the reference data every request reads (a property and its
//! outlets), kept correct by the per-property version that the database bumps on every change
//! (see the `reference_versions` migration). Every session or staff-key lookup reads that
//! version and reports it here; a cached copy older than the latest version seen is never
//! served. Nothing is cached for a property whose version has not been seen.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use bellhop_domain::{outlet::Outlet, property::Property};

#[derive(Debug, Default)]
struct Entries {
    /// The latest version seen per property.
    versions: HashMap<i64, i64>,
    properties: HashMap<i64, (i64, Property)>,
    outlets: HashMap<i64, (i64, Arc<Vec<Outlet>>)>,
}

#[derive(Debug, Default)]
pub(crate) struct ReferenceCache {
    entries: Mutex<Entries>,
}

impl ReferenceCache {
    /// Records a version read from the database.
    pub(crate) fn observe(&self, property_id: i64, version: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            let seen = entries.versions.entry(property_id).or_insert(version);
            *seen = (*seen).max(version);
        }
    }

    /// The latest version seen: data fetched after this call is at least that fresh.
    pub(crate) fn version(&self, property_id: i64) -> Option<i64> {
        self.entries
            .lock()
            .ok()?
            .versions
            .get(&property_id)
            .copied()
    }

    pub(crate) fn property(&self, property_id: i64) -> Option<Property> {
        let entries = self.entries.lock().ok()?;
        let latest = entries.versions.get(&property_id)?;
        entries
            .properties
            .get(&property_id)
            .filter(|(v, _)| v >= latest)
            .map(|(_, p)| p.clone())
    }

    pub(crate) fn outlets(&self, property_id: i64) -> Option<Arc<Vec<Outlet>>> {
        let entries = self.entries.lock().ok()?;
        let latest = entries.versions.get(&property_id)?;
        entries
            .outlets
            .get(&property_id)
            .filter(|(v, _)| v >= latest)
            .map(|(_, o)| o.clone())
    }

    /// Keeps `property` as of `version` (the version seen before it was fetched).
    pub(crate) fn put_property(&self, version: i64, property: Property) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.properties.insert(property.id, (version, property));
        }
    }

    pub(crate) fn put_outlets(&self, property_id: i64, version: i64, outlets: Arc<Vec<Outlet>>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.outlets.insert(property_id, (version, outlets));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::London;

    fn property() -> Property {
        Property {
            id: 1,
            code: "P".into(),
            name: "P".into(),
            brand_code: String::new(),
            group_code: String::new(),
            time_zone: London,
            default_language: "en".into(),
        }
    }

    #[test]
    fn nothing_is_served_for_an_unseen_property() {
        let cache = ReferenceCache::default();
        cache.put_property(1, property());
        assert!(cache.property(1).is_none());
    }

    #[test]
    fn a_newer_version_hides_older_copies() {
        let cache = ReferenceCache::default();
        cache.observe(1, 3);
        cache.put_property(3, property());
        assert!(cache.property(1).is_some());
        cache.observe(1, 4);
        assert!(cache.property(1).is_none());
        cache.observe(1, 2);
        assert_eq!(cache.version(1), Some(4), "versions never go back");
    }
}
