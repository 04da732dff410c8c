//! Latency statistics.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Summarises latencies (microseconds) of the successful requests over `seconds`.
pub fn summarise(mut micros: Vec<u32>, errors: u64, seconds: f64) -> Summary {
    micros.sort_unstable();
    let at = |q: f64| -> f64 {
        if micros.is_empty() {
            return 0.0;
        }
        let index = ((micros.len() as f64 - 1.0) * q).round() as usize;
        f64::from(micros[index.min(micros.len() - 1)]) / 1000.0
    };
    let requests = micros.len() as u64;
    Summary {
        requests,
        errors,
        seconds,
        requests_per_second: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: micros.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    }
}
