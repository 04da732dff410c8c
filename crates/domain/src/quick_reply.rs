//! Quick replies (API section 14): common answers from the reference data, with placeholders
//! filled in for one conversation. Which placeholders exist, how a text is checked for them
//! and how it is rendered are rules of this module; the loader and the staff API only call it.

use crate::outlet::OutletId;

/// A quick reply of a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReply {
    pub code: String,
    pub title: String,
    /// As written, placeholders included.
    pub content: String,
    /// `None`: every outlet of the property.
    pub outlet_ids: Option<Vec<OutletId>>,
}

impl QuickReply {
    /// Whether it applies to a conversation of this outlet.
    pub fn applies_to(&self, outlet_id: OutletId) -> bool {
        self.outlet_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&outlet_id))
    }

    /// Whether a key limited to `key_outlets` (`None`: all) may use it: it applies to at least
    /// one of the key's outlets.
    pub fn visible_to(&self, key_outlets: Option<&[OutletId]>) -> bool {
        match (key_outlets, &self.outlet_ids) {
            (None, _) | (_, None) => true,
            (Some(key), Some(own)) => own.iter().any(|id| key.contains(id)),
        }
    }
}

/// Sorts quick replies as the API lists them: by title, then code (titles may repeat).
pub fn sort_by_title(replies: &mut [QuickReply]) {
    replies.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.code.cmp(&b.code)));
}

/// The placeholders a quick reply may hold, as written between `{{` and `}}`.
pub const PLACEHOLDERS: [&str; 6] = [
    "guest.firstName",
    "guest.lastName",
    "room",
    "outlet.name",
    "serviceCenter",
    "staff.name",
];

/// What the placeholders stand for in one conversation; `None` renders as empty text (a
/// visitor has no room).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceholderValues {
    pub guest_first_name: Option<String>,
    pub guest_last_name: Option<String>,
    pub room: Option<String>,
    pub outlet_name: Option<String>,
    pub service_center: Option<String>,
    pub staff_name: Option<String>,
}

impl PlaceholderValues {
    fn value(&self, name: &str) -> Option<&str> {
        match name {
            "guest.firstName" => self.guest_first_name.as_deref(),
            "guest.lastName" => self.guest_last_name.as_deref(),
            "room" => self.room.as_deref(),
            "outlet.name" => self.outlet_name.as_deref(),
            "serviceCenter" => self.service_center.as_deref(),
            "staff.name" => self.staff_name.as_deref(),
            _ => None,
        }
    }
}

/// One piece of a quick reply's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// The name between `{{` and `}}`, as written.
    Placeholder(&'a str),
}

/// Splits `content` into text and `{{…}}` placeholders. A `{{` without a closing `}}` is
/// text.
fn pieces(content: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        out.push(Piece::Placeholder(&rest[start + 2..start + 2 + len]));
        rest = &rest[start + 2 + len + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The first `{{…}}` in `content` that is not one of [`PLACEHOLDERS`] (written as it
/// appears, braces included), if any: the loader rejects such a text.
pub fn unknown_placeholder(content: &str) -> Option<String> {
    pieces(content).into_iter().find_map(|piece| match piece {
        Piece::Placeholder(name) if !PLACEHOLDERS.contains(&name) => {
            Some(format!("{{{{{name}}}}}"))
        }
        _ => None,
    })
}

/// `content` with each placeholder replaced by its value (empty text when it has none).
pub fn render(content: &str, values: &PlaceholderValues) -> String {
    pieces(content)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text,
            Piece::Placeholder(name) => values.value(name).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn towels() -> &'static str {
        "Hello {{guest.firstName}}, fresh towels are on their way to room {{room}}."
    }

    #[test]
    fn placeholders_are_replaced_by_the_conversations_values() {
        let values = PlaceholderValues {
            guest_first_name: Some("Ada".into()),
            room: Some("101".into()),
            ..PlaceholderValues::default()
        };
        assert_eq!(
            render(towels(), &values),
            "Hello Ada, fresh towels are on their way to room 101."
        );
    }

    #[test]
    fn a_placeholder_without_a_value_becomes_empty_text() {
        assert_eq!(
            render(towels(), &PlaceholderValues::default()),
            "Hello , fresh towels are on their way to room ."
        );
    }

    #[test]
    fn every_placeholder_has_its_value() {
        let values = PlaceholderValues {
            guest_first_name: Some("Ada".into()),
            guest_last_name: Some("Lovelace".into()),
            room: Some("101".into()),
            outlet_name: Some("Lobby Bar".into()),
            service_center: Some("Bar Team".into()),
            staff_name: Some("Bar Demo".into()),
        };
        let all: String = PLACEHOLDERS
            .iter()
            .map(|p| format!("[{{{{{p}}}}}]"))
            .collect();
        assert_eq!(
            render(&all, &values),
            "[Ada][Lovelace][101][Lobby Bar][Bar Team][Bar Demo]"
        );
        assert_eq!(unknown_placeholder(&all), None);
    }

    #[test]
    fn any_other_placeholder_is_named_as_written() {
        assert_eq!(
            unknown_placeholder("Dear {{guest.name}}, room {{room}}"),
            Some("{{guest.name}}".into())
        );
        assert_eq!(unknown_placeholder("{{ room }}"), Some("{{ room }}".into()));
        assert_eq!(unknown_placeholder("{{}}"), Some("{{}}".into()));
        assert_eq!(unknown_placeholder("{{Room}}"), Some("{{Room}}".into()));
    }

    #[test]
    fn text_without_placeholders_is_left_as_written() {
        for text in [
            "No braces",
            "single {braces}",
            "open {{ but never closed",
            "}} {",
        ] {
            assert_eq!(unknown_placeholder(text), None, "{text}");
            assert_eq!(render(text, &PlaceholderValues::default()), text);
        }
    }

    #[test]
    fn a_reply_without_outlets_applies_everywhere_and_one_with_outlets_only_there() {
        let everywhere = QuickReply {
            code: "TOWELS".into(),
            title: "Towels".into(),
            content: towels().into(),
            outlet_ids: None,
        };
        let bar = QuickReply {
            outlet_ids: Some(vec![3]),
            ..everywhere.clone()
        };
        assert!(everywhere.applies_to(9) && everywhere.visible_to(Some(&[9])));
        assert!(bar.applies_to(3) && !bar.applies_to(2));
        assert!(bar.visible_to(None));
        assert!(bar.visible_to(Some(&[2, 3])));
        assert!(!bar.visible_to(Some(&[2])));
    }

    #[test]
    fn replies_are_sorted_by_title_then_code() {
        let reply = |code: &str, title: &str| QuickReply {
            code: code.into(),
            title: title.into(),
            content: String::new(),
            outlet_ids: None,
        };
        let mut replies = vec![
            reply("B", "Towels"),
            reply("C", "Bar hours"),
            reply("A", "Towels"),
        ];
        sort_by_title(&mut replies);
        let codes: Vec<_> = replies.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["C", "A", "B"]);
    }
}
