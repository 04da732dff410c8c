//! `GET /inbox` and its assets over HTTP (the app itself is driven in a browser by
//! `tests/inbox.rs`): a strict policy, content-addressed assets cached for a year, and
//! revalidation by `ETag`.

use actix_web::test::TestRequest;
use sqlx::PgPool;

use crate::helpers::*;

/// The asset paths the page refers to (`/inbox/inbox.<hash>.js`...).
fn asset_paths(page: &str) -> Vec<String> {
    page.split('"')
        .filter(|part| part.starts_with("/inbox/"))
        .map(str::to_owned)
        .collect()
}

#[bellhop_testdb::test]
async fn the_inbox_page_is_served_with_a_policy_that_allows_only_its_own_origin(pool: PgPool) {
    let app = spawn(pool).await;
    let page = app.get("/inbox").await;
    assert_eq!(page.status.as_u16(), 200);
    assert_eq!(
        page.headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let policy = page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-cache");
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    let html = page.body.as_str().unwrap();
    assert!(html.contains("<label for=\"staff-key\">Staff key</label>"));
    assert_eq!(asset_paths(html).len(), 2, "{html}");
}

#[bellhop_testdb::test]
async fn inbox_assets_are_cached_for_a_year_under_names_that_change_with_their_content(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let page = app.get("/inbox").await;
    for path in asset_paths(page.body.as_str().unwrap()) {
        let asset = app.get(&path).await;
        assert_eq!(asset.status.as_u16(), 200, "{path}");
        assert_eq!(
            asset.headers.get("cache-control").unwrap(),
            "public, max-age=31536000, immutable"
        );
        let expected = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(asset.headers.get("content-type").unwrap(), expected);
        let etag = asset
            .headers
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        // The hash in the name is the hash in the ETag.
        assert!(path.contains(etag.trim_matches('"')), "{path} {etag}");
        let again = app
            .call(
                TestRequest::get()
                    .uri(&path)
                    .insert_header(("if-none-match", etag.as_str())),
            )
            .await;
        assert_eq!(again.status.as_u16(), 304);
    }
}

#[bellhop_testdb::test]
async fn the_inbox_page_is_revalidated_by_its_etag(pool: PgPool) {
    let app = spawn(pool).await;
    let page = app.get("/inbox").await;
    let etag = page
        .headers
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let again = app
        .call(
            TestRequest::get()
                .uri("/inbox")
                .insert_header(("if-none-match", format!("\"other\", {etag}"))),
        )
        .await;
    assert_eq!(again.status.as_u16(), 304);
    let other = app
        .call(
            TestRequest::get()
                .uri("/inbox")
                .insert_header(("if-none-match", "\"other\"")),
        )
        .await;
    assert_eq!(other.status.as_u16(), 200);
}

#[bellhop_testdb::test]
async fn an_unknown_or_outdated_inbox_asset_is_not_found(pool: PgPool) {
    let app = spawn(pool).await;
    for path in [
        "/inbox/inbox.js",
        "/inbox/inbox.0000000000000000.js",
        "/inbox/..%2F..%2FCargo.toml",
        "/inbox/index.html",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status.as_u16(), 404, "{path}");
        assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");
    }
}

#[bellhop_testdb::test]
async fn the_inbox_never_puts_the_staff_key_in_a_url_or_the_console(pool: PgPool) {
    let app = spawn(pool).await;
    let page = app.get("/inbox").await;
    let script_path = asset_paths(page.body.as_str().unwrap())
        .into_iter()
        .find(|p| p.ends_with(".js"))
        .unwrap();
    let script = app.get(&script_path).await;
    let source = script.body.as_str().unwrap();
    assert!(source.contains("sessionStorage"));
    assert!(!source.contains("localStorage"), "the key outlives the tab");
    assert!(
        !source.contains("console."),
        "the script writes to the console"
    );
    assert!(
        !source.contains("EventSource("),
        "EventSource cannot send the key"
    );
    assert!(source.contains("\"Last-Event-ID\""));
    assert!(source.contains("\"Idempotency-Key\""));
    assert!(!source.contains(".innerHTML"), "server text parsed as HTML");
}
