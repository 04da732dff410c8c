//! Token-bucket rate limits, counted in this process (section 9 of the spec): per session
//! (all its tokens together) and per client address. A limit of N per minute refills N/60
//! tokens a second into a bucket of N/2 (at least 1).

use std::{collections::HashMap, hash::Hash, sync::Mutex, time::Instant};

/// Buckets kept before idle ones (full again) are swept out.
const SWEEP_AT: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct RateLimiter<K> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// `None` when `per_minute` is 0 (limit off).
    pub fn new(per_minute: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            capacity: f64::from((per_minute / 2).max(1)),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token for `key` at `now`; when none is left, the whole seconds to wait.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; limiting is not worth failing requests.
            return Ok(());
        };
        if buckets.len() >= SWEEP_AT {
            let (capacity, per_second) = (self.capacity, self.per_second);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        let refilled = bucket.tokens
            + now.saturating_duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = refilled.min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.per_second).ceil();
            // Whole seconds, at least one (the value is small and positive).
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_half_the_rate_passes_then_requests_wait() {
        let limiter = RateLimiter::new(120).unwrap();
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check(&"s", start).is_ok());
        }
        assert_eq!(limiter.check(&"s", start), Err(1));
        // Two tokens a second come back.
        assert!(limiter
            .check(&"s", start + Duration::from_millis(500))
            .is_ok());
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let limiter = RateLimiter::new(2).unwrap();
        let now = Instant::now();
        assert!(limiter.check(&"a", now).is_ok());
        assert_eq!(limiter.check(&"a", now), Err(30));
        assert!(limiter.check(&"b", now).is_ok());
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert!(RateLimiter::<u32>::new(0).is_none());
    }

    #[test]
    fn the_bucket_never_holds_more_than_its_capacity() {
        let limiter = RateLimiter::new(4).unwrap();
        let now = Instant::now();
        assert!(limiter.check(&1, now).is_ok());
        let later = now + Duration::from_secs(3600);
        assert!(limiter.check(&1, later).is_ok());
        assert!(limiter.check(&1, later).is_ok());
        assert!(limiter.check(&1, later).is_err());
    }
}
