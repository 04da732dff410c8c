//! Small text rules shared by the wire-facing value objects.

/// Text that must never be stored: NUL characters (PostgreSQL rejects them in `text`).
pub fn contains_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Trims and returns `None` for an empty result: the spec's "not given".
pub fn non_empty_trimmed(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}
