//! Page-number paging of the guest API (`PageNumber`, `PageLength`).

use crate::error::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub length: u32,
}

impl Page {
    /// `PageNumber` defaults to 1 and must be at least 1; `PageLength` must be 1 to `max`, and
    /// a missing length means "all", capped at `max`.
    pub fn parse(number: Option<i64>, length: Option<i64>, max: u32) -> Result<Self, DomainError> {
        let number = number.unwrap_or(1);
        if number < 1 {
            return Err(DomainError::InvalidPaging(
                "PageNumber must be at least 1.".into(),
            ));
        }
        // A page number beyond any real page is simply past the end.
        let number = u32::try_from(number).unwrap_or(u32::MAX);
        let length = length.unwrap_or(i64::from(max));
        if length < 1 || length > i64::from(max) {
            return Err(DomainError::InvalidPaging(format!(
                "PageLength must be between 1 and {max}."
            )));
        }
        Ok(Self {
            number,
            length: u32::try_from(length).unwrap_or(max),
        })
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.number) - 1) * i64::from(self.length)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_first_page_of_everything_up_to_the_cap() {
        assert_eq!(
            Page::parse(None, None, 500),
            Ok(Page {
                number: 1,
                length: 500
            })
        );
    }

    #[test]
    fn out_of_range_values_are_invalid_paging() {
        assert!(Page::parse(Some(0), None, 500).is_err());
        assert!(Page::parse(Some(-1), None, 500).is_err());
        assert!(Page::parse(None, Some(0), 500).is_err());
        assert!(Page::parse(None, Some(501), 500).is_err());
        assert!(Page::parse(None, Some(500), 500).is_ok());
    }

    #[test]
    fn a_huge_page_number_is_a_page_past_the_end() {
        let page = Page::parse(Some(i64::MAX), Some(500), 500).unwrap();
        assert_eq!(page.number, u32::MAX);
        assert!(page.offset() > 0);
    }

    #[test]
    fn the_offset_skips_earlier_pages() {
        let page = Page::parse(Some(3), Some(20), 500).unwrap();
        assert_eq!((page.offset(), page.limit()), (40, 20));
    }
}
