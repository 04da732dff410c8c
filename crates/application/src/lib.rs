//! Bellhop's use cases: sessions, guest conversations, outlet settings, the staff side and
//! reference-data loading, written against the domain's ports only.

pub mod clock;
pub mod codes;
pub mod conversations;
pub mod error;
pub mod outlets;
pub mod reference_data;
pub mod reply_clock;
pub mod secrets;
pub mod sessions;
pub mod staff;
pub mod tokens;
pub mod webhooks;

#[cfg(test)]
mod testing;

pub use error::AppError;
