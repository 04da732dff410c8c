//! Case-insensitive guest routes: the original ASP.NET service matched routes in any letter
//! case, so a request path is rewritten to the canonical spelling of the route it matches
//! before actix routes it. Path parameters (codes) keep their case: codes are case-sensitive.

/// Every guest route, in canonical spelling; `{code}` is a parameter.
pub const GUEST_ROUTES: &[&str] = &[
    "/API/V40/System/Session/Initialise",
    "/API/V40/System/Session/InitialiseByRoom",
    "/API/V40/System/Session/InitialiseByGuestIdentifier",
    "/API/V40/System/Session/LoginByRoom",
    "/API/V40/System/Settings/Outlet",
    "/API/V40/Interactive/Messages",
    "/API/V40/Interactive/Messages/Events",
    "/API/V40/Interactive/Messages/Conversations",
    "/API/V40/Interactive/Messages/NonVerifiedGuestConversations",
    "/API/V40/Interactive/Messages/Conversations/{code}",
    "/API/V40/Interactive/Messages/Conversations/{code}/Messages",
    "/API/V40/Interactive/Messages/Conversations/{code}/Read",
    "/API/V40/Interactive/Messages/Conversations/{code}/Close",
];

/// The route template a path matches, if any.
pub fn match_route(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    GUEST_ROUTES.iter().copied().find(|template| {
        let pattern: Vec<&str> = template.split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(expected, actual)| {
                if *expected == "{code}" {
                    !actual.is_empty()
                } else {
                    expected.eq_ignore_ascii_case(actual)
                }
            })
    })
}

/// The canonical spelling of `path` when it matches a guest route in another letter case.
pub fn canonical_path(path: &str) -> Option<String> {
    let template = match_route(path)?;
    let rewritten: Vec<&str> = template
        .split('/')
        .zip(path.split('/'))
        .map(|(expected, actual)| {
            if expected == "{code}" {
                actual
            } else {
                expected
            }
        })
        .collect();
    let rewritten = rewritten.join("/");
    (rewritten != path).then_some(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_case_route_is_rewritten() {
        assert_eq!(
            canonical_path("/api/v40/interactive/messages/conversations").as_deref(),
            Some("/API/V40/Interactive/Messages/Conversations")
        );
    }

    #[test]
    fn codes_keep_their_case() {
        assert_eq!(
            canonical_path("/api/v40/interactive/messages/conversations/AbC_d-9/read").as_deref(),
            Some("/API/V40/Interactive/Messages/Conversations/AbC_d-9/Read")
        );
    }

    #[test]
    fn canonical_and_unknown_paths_are_left_alone() {
        assert_eq!(canonical_path("/API/V40/Interactive/Messages"), None);
        assert_eq!(canonical_path("/api/v41/interactive/messages"), None);
        assert_eq!(canonical_path("/health/live"), None);
    }

    #[test]
    fn routes_are_reported_as_templates() {
        assert_eq!(
            match_route("/API/V40/Interactive/Messages/Conversations/xyz"),
            Some("/API/V40/Interactive/Messages/Conversations/{code}")
        );
    }
}
