//! `GET /inbox`: the staff inbox web app (section 13 of the spec), plain HTML, CSS and one
//! JavaScript module in `crates/http/assets/inbox`, embedded in the binary so nothing is
//! fetched from elsewhere at run time.
//!
//! The page names its assets by content hash (`inbox.3f2a…​.js`), so a browser may keep an
//! asset for a year and still never run a stale one after an upgrade: the page itself is
//! revalidated on every load (`no-cache` with an `ETag`). The page's
//! `Content-Security-Policy` allows only this origin's own scripts, styles and connections:
//! no inline script or style, no framing.

use std::sync::LazyLock;

use actix_web::{
    body::MessageBody,
    http::header::{self, HeaderValue},
    web, HttpRequest, HttpResponse,
};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

const PAGE_TEMPLATE: &str = include_str!("../../assets/inbox/index.html");
const SCRIPT: &[u8] = include_bytes!("../../assets/inbox/inbox.js");
const STYLE: &[u8] = include_bytes!("../../assets/inbox/inbox.css");

/// The inbox page's policy: its own origin only, and nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A year: an asset's name changes with its content, so a cached copy never goes stale.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Asset {
    /// `inbox.<hash>.js`: the name the page refers to.
    name: String,
    content_type: &'static str,
    body: &'static [u8],
    etag: String,
}

struct Inbox {
    assets: Vec<Asset>,
    page: String,
    page_etag: String,
}

/// The first 16 hex digits of the SHA-256 of `body`: plenty to tell two versions apart.
fn hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn asset(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let digest = hash(body);
    Asset {
        name: format!("{stem}.{digest}.{extension}"),
        content_type,
        body,
        etag: format!("\"{digest}\""),
    }
}

static INBOX: LazyLock<Inbox> = LazyLock::new(|| {
    let assets = vec![
        asset("inbox", "js", "text/javascript; charset=utf-8", SCRIPT),
        asset("inbox", "css", "text/css; charset=utf-8", STYLE),
    ];
    let page = PAGE_TEMPLATE
        .replace("{{inbox.js}}", &assets[0].name)
        .replace("{{inbox.css}}", &assets[1].name);
    let page_etag = format!("\"{}\"", hash(page.as_bytes()));
    Inbox {
        assets,
        page,
        page_etag,
    }
});

/// True when the request's `If-None-Match` names `etag` (or `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn respond<B: MessageBody + 'static>(
    req: &HttpRequest,
    content_type: &'static str,
    cache: &'static str,
    etag: &str,
    body: B,
) -> HttpResponse {
    let mut response = if not_modified(req, etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(content_type).body(body)
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[utoipa::path(
    get,
    path = "/inbox",
    operation_id = "inboxPage",
    tag = "inbox",
    responses(
        (status = 200, description = "The staff inbox web app (section 13)", content_type = "text/html"),
        (status = 304, description = "Not modified since the `ETag` given in `If-None-Match`"),
    ),
)]
pub async fn page(req: HttpRequest) -> HttpResponse {
    let inbox = &*INBOX;
    respond(
        &req,
        "text/html; charset=utf-8",
        "no-cache",
        &inbox.page_etag,
        inbox.page.clone(),
    )
}

#[utoipa::path(
    get,
    path = "/inbox/{file}",
    operation_id = "inboxAsset",
    tag = "inbox",
    params(
        ("file" = String, Path, description = "A content-addressed asset of the inbox page"),
    ),
    responses(
        (status = 200, description = "The asset, cacheable for a year"),
        (status = 304, description = "Not modified since the `ETag` given in `If-None-Match`"),
        (status = 404, description = "No such asset (or an older version's name)"),
    ),
)]
pub async fn asset_file(
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asset = INBOX
        .assets
        .iter()
        .find(|asset| asset.name == *file)
        .ok_or_else(ApiError::not_found)?;
    Ok(respond(
        &req,
        asset.content_type,
        IMMUTABLE,
        &asset.etag,
        asset.body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_refers_to_every_asset_by_its_hashed_name_and_to_nothing_else() {
        let inbox = &*INBOX;
        for asset in &inbox.assets {
            assert!(
                inbox.page.contains(&format!("/inbox/{}", asset.name)),
                "{}",
                asset.name
            );
        }
        assert!(!inbox.page.contains("{{"), "a placeholder is left");
        assert!(!inbox.page.contains("http://") && !inbox.page.contains("https://"));
    }

    #[test]
    fn an_asset_name_changes_with_its_content() {
        let a = asset("inbox", "js", "text/javascript", b"one");
        let b = asset("inbox", "js", "text/javascript", b"two");
        assert_ne!(a.name, b.name);
        assert!(a.name.starts_with("inbox.") && a.name.ends_with(".js"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = &INBOX.page;
        assert!(!page.contains("<style"), "inline <style>");
        assert!(!page.contains(" style="), "a style attribute");
        let handler = page.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "an inline event handler");
        for script in page.split("<script").skip(1) {
            let head = script.split('>').next().unwrap_or_default();
            assert!(head.contains("src="), "an inline <script>");
        }
    }
}
