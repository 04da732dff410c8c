//! The wire conventions of the guest API (section 2 of the spec), built once: decoding bodies
//! and query strings into case-insensitive [`Fields`], and writing the response envelope.

pub mod body;
pub mod envelope;
pub mod fields;
pub mod paths;
pub mod request;
