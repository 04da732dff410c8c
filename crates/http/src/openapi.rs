//! The OpenAPI 3 document of every route, generated from the handlers' `#[utoipa::path]`
//! annotations and the schemas below, so it cannot drift from the code. A test checks that
//! every route of [`crate::routes::ROUTES`] is documented.

use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    IntoResponses, Modify, OpenApi, ToSchema,
};

use crate::routes;

/// The composite envelope of every guest response. `responses` holds one object per message,
/// keyed by the message's name (`createConversationResponse`, `responseStatus`...).
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"sessionToken": "AQAA…", "responsesIncluded": "responseStatus",
    "responses": [{"responseStatus": {"succeeded": true}}], "status": "Success"}))]
pub struct Envelope {
    /// The token to use from now on (null when the request had no valid one).
    #[schema(nullable)]
    pub session_token: Option<String>,
    /// The message names in `responses`, joined with `,`.
    pub responses_included: String,
    pub responses: Vec<serde_json::Value>,
    /// `Success`, `PartialSuccess` or `Failure`.
    pub status: String,
}

/// `{"error": {"code", "message"}}`: every staff error.
#[derive(ToSchema)]
pub struct StaffError {
    pub error: StaffErrorDetail,
}

#[derive(ToSchema)]
pub struct StaffErrorDetail {
    pub code: String,
    pub message: String,
}

/// The errors any guest route can answer, whatever it does: each route's `responses` lists
/// this set and then its own (its success, 403, 404, 409...).
#[derive(IntoResponses)]
#[allow(dead_code)] // a documentation type: never built
pub enum GuestErrors {
    #[response(status = 400, description = "Malformed body or invalid field values")]
    Invalid(Envelope),
    #[response(
        status = 401,
        description = "Missing, invalid or expired session token or credentials"
    )]
    Unauthenticated(Envelope),
    #[response(status = 413, description = "Body over the limit")]
    TooLarge(Envelope),
    #[response(status = 415, description = "Unsupported content type")]
    UnsupportedContentType(Envelope),
    #[response(status = 503, description = "Database unavailable")]
    Unavailable(Envelope),
}

/// The errors any staff route can answer, whatever it does.
#[derive(IntoResponses)]
#[allow(dead_code)] // a documentation type: never built
pub enum StaffErrors {
    #[response(status = 400, description = "Invalid request")]
    Invalid(StaffError),
    #[response(status = 401, description = "Missing or invalid staff key")]
    Unauthenticated(StaffError),
    #[response(status = 503, description = "Database unavailable")]
    Unavailable(StaffError),
}

struct StaffKeyAuth;

impl Modify for StaffKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bellhop",
        description = "Guest messaging for hotels. The guest API (`/API/V40/...`) re-implements a public \
            hospitality platform's messaging API: routes and field names match case-insensitively, bodies may be \
            JSON, text/json or form-encoded, and every response is an envelope. The staff API (`/staff/v1`) is \
            plain REST with a bearer staff key."
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::metrics::metrics,
        routes::docs::openapi_json,
        routes::docs::docs_page,
        routes::docs::docs_asset,
        routes::inbox::page,
        routes::inbox::asset_file,
        routes::session::initialise,
        routes::session::initialise_by_room,
        routes::session::initialise_by_guest_identifier,
        routes::session::login_by_room,
        routes::outlets::settings,
        routes::messages::list,
        routes::conversations::create::create,
        routes::conversations::create::create_for_visitor,
        routes::conversations::list::list,
        routes::conversations::get::get,
        routes::conversations::reply::reply,
        routes::conversations::read::read,
        routes::conversations::close::close,
        routes::staff::list::list,
        routes::staff::start::start,
        routes::staff::get::get,
        routes::staff::reply::reply,
        routes::staff::read::read,
        routes::staff::close::close,
        routes::staff::close::reopen,
        routes::staff::unread::unread,
        routes::staff::assign::assign,
        routes::staff::notes::add_note,
        routes::staff::quick_replies::quick_replies,
        routes::staff::me::me,
        routes::events::guest,
        routes::events::staff,
    ),
    components(schemas(
        // The `content` of the guest responses, which the envelope carries untyped.
        crate::dto::ConversationDto,
        crate::dto::ConversationSummaryDto,
        crate::dto::MessageDto,
        crate::dto::OutletSettingsDto,
        // Staff shapes with the reply clock and `automatic` (section 14).
        crate::dto::StaffMessageDto,
        crate::dto::ReplyClockFields,
    )),
    modifiers(&StaffKeyAuth),
    tags(
        (name = "session", description = "Starting sessions (original API)"),
        (name = "guest", description = "Guest messaging (original API)"),
        (name = "guest-extensions", description = "Guest routes that are Bellhop's extensions"),
        (name = "staff", description = "The service centre's API"),
        (name = "operations", description = "Health, metrics and documentation"),
        (name = "inbox", description = "The staff inbox web app, served from the binary"),
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn openapi_document() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_staff_views_document_the_reply_clock_and_automatic_messages() {
        let document: Value = serde_json::from_str(&openapi_document()).unwrap();
        let text = document.to_string();
        for field in ["awaitingReplySince", "replyDueAt", "overdue", "automatic"] {
            assert!(
                text.contains(&format!("\"{field}\"")),
                "{field} is undocumented"
            );
        }
        let list = &document["paths"]["/staff/v1/conversations"]["get"]["parameters"];
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "overdue"),
            "the overdue filter is undocumented"
        );
        let guest_message = &document["components"]["schemas"]["Message"]["properties"];
        assert!(
            guest_message.get("automatic").is_none(),
            "guest shapes are unchanged"
        );
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let document: Value = serde_json::from_str(&openapi_document()).unwrap();
        let paths = document["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut routes: Vec<(String, String)> = routes::ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }

    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .iter()
                    .map(move |(method, op)| (method.clone(), path.clone(), op.clone()))
            })
            .collect()
    }

    #[test]
    fn every_operation_has_its_own_operation_id() {
        let document: Value = serde_json::from_str(&openapi_document()).unwrap();
        let mut ids: Vec<String> = operations(&document)
            .iter()
            .map(|(method, path, op)| {
                op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                    .to_owned()
            })
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "repeated operationIds among {ids:?}");
    }

    #[test]
    fn every_staff_success_names_its_body_schema() {
        let document: Value = serde_json::from_str(&openapi_document()).unwrap();
        for (method, path, op) in operations(&document) {
            if !path.starts_with("/staff/") {
                continue;
            }
            let responses = op["responses"].as_object().unwrap();
            let (status, success) = responses
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path} has no success response"));
            if success["content"].get("text/event-stream").is_some() {
                continue; // an event stream (section 11): its events are documented in text
            }
            let schema = &success["content"]["application/json"]["schema"];
            let reference = schema["$ref"].as_str().unwrap_or_default();
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                name.starts_with("Staff"),
                "{method} {path} {status} has no named schema: {schema}"
            );
            assert!(
                document["components"]["schemas"][name]["properties"].is_object(),
                "{name} has no fields"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3() {
        let document: Value = serde_json::from_str(&openapi_document()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        assert!(document["components"]["securitySchemes"]["staff_key"].is_object());
    }
}
