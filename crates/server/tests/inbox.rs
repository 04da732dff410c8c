//! The staff inbox (section 13) in a real browser: the `bellhop` binary serves it on a fresh
//! database, Debian's `chromium` runs it headless through `chromedriver` (WebDriver, driven by
//! `thirtyfour`), and the guest API plays the guest. Controls are found the way a screen
//! reader finds them — by their label, their text or their ARIA role — never by CSS class.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`; without `chromedriver` these tests fail
//! and say so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;

use std::{
    net::SocketAddr,
    panic::AssertUnwindSafe,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::FutureExt;
use helpers::{database_url, PREVIOUS_SECRET, SECRET};
use serde_json::{json, Value};
use sqlx::PgPool;
use thirtyfour::{
    components::SelectElement, prelude::*, ChromiumLikeCapabilities, LoggingPrefsLogLevel,
};

const STAFF_KEY: &str = "demo-staff-key";

/// One browser test at a time: each runs a server and a Chromium, and the two-second
/// deadlines of live updates are about the inbox, not about four browsers sharing two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn wait_for_port(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {addr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A child process killed when dropped, so a failing test leaves nothing running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chromedriver` in a process group of its own, killed whole when dropped: the browsers it
/// started go with it even when a failing test never reaches `quit`.
struct ProcessGroup(Child);

impl ProcessGroup {
    fn spawn(command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        Self(
            command
                .process_group(0)
                .spawn()
                .expect("the process starts"),
        )
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// `bellhop serve --demo` over the test's database, on the real clock (the demo stays are
/// in-house from the moment it loads them).
async fn serve(pool: &PgPool, addr: SocketAddr) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["serve", "--demo"])
        .env("DATABASE_URL", database_url(pool))
        .env("BELLHOP_BIND", addr.to_string())
        .env("BELLHOP_SESSION_SECRET", SECRET)
        .env("BELLHOP_SESSION_SECRET_PREVIOUS", PREVIOUS_SECRET)
        .env("BELLHOP_RATE_LIMIT_PER_SESSION", "0")
        .env("BELLHOP_RATE_LIMIT_PER_ADDRESS", "0")
        .env("BELLHOP_EVENTS_HEARTBEAT_SECS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bellhop binary starts");
    let process = Process(child);
    wait_for_port(addr, "bellhop").await;
    process
}

fn chromedriver_path() -> PathBuf {
    let path = std::env::var_os("CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium and chromium-driver \
         (apt-get install -y chromium chromium-driver; .ci/run does)",
        path.display()
    );
    path
}

/// A headless Chromium of `width` × `height` CSS pixels, with its console log kept.
struct Browser {
    // Dropped first: a test that fails before `quit` kills chromedriver and its browsers, so
    // the session's own teardown on drop finds nobody to wait for.
    _chromedriver: ProcessGroup,
    driver: WebDriver,
    base: String,
}

impl Browser {
    async fn open(base: &str, width: u32, height: u32) -> Self {
        let port = free_addr().port();
        let chromedriver = ProcessGroup::spawn(
            Command::new(chromedriver_path())
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), "chromedriver").await;
        let mut caps = DesiredCapabilities::chrome();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            &format!("--window-size={width},{height}"),
        ] {
            caps.add_arg(arg).unwrap();
        }
        if let Some(binary) = std::env::var_os("CHROMIUM") {
            caps.set_binary(&binary.to_string_lossy()).unwrap();
        }
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .unwrap();
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
            .await
            .expect("a Chromium session");
        // A window has a minimum width; the device metrics of a phone have none.
        driver
            .cdp()
            .send_raw(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
            )
            .await
            .expect("the viewport is set");
        Self {
            driver,
            base: base.to_owned(),
            _chromedriver: chromedriver,
        }
    }

    async fn goto(&self, path: &str) {
        self.driver
            .goto(format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The first displayed element of `xpath`, waiting up to `secs`.
    async fn displayed(&self, xpath: &str, secs: u64) -> WebElement {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            for element in self.driver.find_all(By::XPath(xpath)).await.unwrap() {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nothing displayed matches {xpath} after {secs} s; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until no displayed element matches `xpath`.
    async fn gone(&self, xpath: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut shown = false;
            for element in self.driver.find_all(By::XPath(xpath)).await.unwrap() {
                shown |= element.is_displayed().await.unwrap_or(false);
            }
            if !shown {
                return;
            }
            assert!(Instant::now() < deadline, "{xpath} is still displayed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `keys` to the displayed element of `xpath`, finding it again if the page
    /// re-rendered it meanwhile (a live update replaces list entries).
    async fn keys_to(&self, xpath: &str, keys: impl Into<TypingData> + Clone) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let element = self.displayed(xpath, 3).await;
            match element.send_keys(keys.clone()).await {
                Ok(()) => return,
                Err(e) => assert!(Instant::now() < deadline, "cannot type into {xpath}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the displayed element of `xpath` (found again if it was re-rendered).
    async fn click(&self, xpath: &str) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let element = self.displayed(xpath, 3).await;
            match element.click().await {
                Ok(()) => return,
                Err(e) => assert!(Instant::now() < deadline, "cannot click {xpath}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn page_text(&self) -> String {
        match self.driver.find(By::Tag("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The form control labelled `label` (by `<label for>` or by an enclosing `<label>`).
    async fn field(&self, label: &str) -> WebElement {
        self.displayed(&labelled(label), 5).await
    }

    /// The button whose accessible name (its text) is exactly `name`.
    async fn button(&self, name: &str) -> WebElement {
        self.displayed(&button(name), 5).await
    }

    /// Waits until the element of ARIA role `role` contains `text`; returns how long it took.
    async fn role_contains(&self, role: &str, text: &str, secs: u64) -> Duration {
        let started = Instant::now();
        self.displayed(
            &format!("//*[@role='{role}'][contains(., {})]", literal(text)),
            secs,
        )
        .await;
        started.elapsed()
    }

    async fn script(&self, script: &str) -> Value {
        self.driver
            .execute(script, Vec::new())
            .await
            .unwrap()
            .json()
            .clone()
    }

    /// Drains the browser's console log.
    async fn console(&self) -> Vec<thirtyfour::BrowserLogEntry> {
        self.driver.browser_log().await.expect("the browser log")
    }

    /// Nothing overflows sideways: the page is no wider than the window.
    async fn assert_no_horizontal_overflow(&self, when: &str) {
        let sizes = self
            .script("return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth];")
            .await;
        let (document, body, window) = (
            sizes[0].as_i64().unwrap(),
            sizes[1].as_i64().unwrap(),
            sizes[2].as_i64().unwrap(),
        );
        assert!(
            document <= window && body <= window,
            "{when}: the page is {document}/{body} px wide in a {window} px window"
        );
    }

    async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("inbox-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        self.driver.screenshot(&dir.join(name)).await.unwrap();
    }

    async fn sign_in(&self, key: &str) {
        let field = self.field("Staff key").await;
        field.clear().await.unwrap();
        field.send_keys(key).await.unwrap();
        self.button("Sign in").await.click().await.unwrap();
    }
}

/// Runs `flow` with `browser`, then ends the browser session whatever happened: a session
/// dropped without `quit` would block the test's runtime while it tears itself down.
async fn with_browser(browser: Browser, flow: impl AsyncFnOnce(&Browser)) {
    let outcome = AssertUnwindSafe(flow(&browser)).catch_unwind().await;
    let Browser {
        driver,
        _chromedriver,
        ..
    } = browser;
    let quit = driver.quit().await;
    drop(_chromedriver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    quit.expect("the browser session ends");
}

/// An XPath string literal of `text` (which holds no apostrophe in these tests).
fn literal(text: &str) -> String {
    assert!(!text.contains('\''));
    format!("'{text}'")
}

fn labelled(label: &str) -> String {
    let label = literal(label);
    format!(
        "//*[@id=//label[normalize-space(.)={label}]/@for] \
         | //label[normalize-space(.)={label}]//*[self::input or self::select or self::textarea]"
    )
}

fn button(name: &str) -> String {
    format!("//button[normalize-space(.)={}]", literal(name))
}

/// A conversation's entry in the list: a button whose name has both texts.
fn list_entry(first: &str, second: &str) -> String {
    format!(
        "//button[contains(normalize-space(.), {})][contains(normalize-space(.), {})]",
        literal(first),
        literal(second)
    )
}

/// The guest side, over HTTP like a guest app.
struct Guest {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Guest {
    async fn sign_in(base: &str, room: &str, last_name: &str) -> Self {
        let http = reqwest::Client::new();
        let reply: Value = http
            .post(format!("{base}/API/V40/System/Session/InitialiseByRoom"))
            .header("content-type", "application/json")
            .body(
                json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token",
                          "roomNumber": room, "lastName": last_name})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        let token = reply["sessionToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {reply}"))
            .to_owned();
        Self {
            http,
            base: base.to_owned(),
            token,
        }
    }

    /// A visitor (no room) identified by `identifier`.
    async fn visitor(base: &str, identifier: &str) -> Self {
        let http = reqwest::Client::new();
        let reply: Value = http
            .post(format!(
                "{base}/API/V40/System/Session/InitialiseByGuestIdentifier"
            ))
            .header("content-type", "application/json")
            .body(
                json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token",
                          "guestUniqueIdentifier": identifier})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        let token = reply["sessionToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {reply}"))
            .to_owned();
        Self {
            http,
            base: base.to_owned(),
            token,
        }
    }

    /// A visitor's conversation with the concierge, with its contact form.
    async fn start_as_visitor(&self, message: &str, form: Value) {
        let reply: Value = self
            .http
            .post(format!(
                "{}/API/V40/Interactive/Messages/NonVerifiedGuestConversations",
                self.base
            ))
            .header("content-type", "application/json")
            .body(
                json!({"sessionToken": self.token, "message": message, "conversationType": "guest",
                          "outletCode": "CONCIERGE", "orderFormDetailsDictionary": form})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        assert_eq!(reply["status"], "Success", "{reply}");
    }

    /// Starts a conversation; returns its code.
    async fn start(&self, message: &str) -> String {
        let reply: Value = self
            .http
            .post(format!(
                "{}/API/V40/Interactive/Messages/Conversations",
                self.base
            ))
            .header("content-type", "application/json")
            .body(
                json!({"sessionToken": self.token, "message": message,
                       "conversationType": "guest"})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        reply["responses"][0]["createConversationResponse"]["content"]["conversation"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no conversation: {reply}"))
            .to_owned()
    }

    async fn say(&self, code: &str, message: &str) {
        let reply: Value = self
            .http
            .post(format!(
                "{}/API/V40/Interactive/Messages/Conversations/{code}/Messages",
                self.base
            ))
            .header("content-type", "application/json")
            .body(
                json!({"sessionToken": self.token, "message": message,
                       "conversationType": "guest"})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        assert_eq!(reply["status"], "Success", "{reply}");
    }

    /// Marks every staff message of `code` read, as the guest's app does.
    async fn read(&self, code: &str) {
        let reply: Value = self
            .http
            .post(format!(
                "{}/API/V40/Interactive/Messages/Conversations/{code}/Read",
                self.base
            ))
            .header("content-type", "application/json")
            .body(json!({"sessionToken": self.token}).to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        assert_eq!(reply["status"], "Success", "{reply}");
    }

    /// Every message the guest sees in `code`.
    async fn messages(&self, code: &str) -> Vec<Value> {
        let reply: Value = self
            .http
            .get(format!(
                "{}/API/V40/Interactive/Messages/Conversations/{code}?SessionToken={}",
                self.base, self.token
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|text| parse(&text))
            .unwrap();
        reply["responses"][0]["getConversationResponse"]["content"]["conversation"]["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages: {reply}"))
            .clone()
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn staff_get(base: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(STAFF_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|text| parse(&text))
        .unwrap()
}

/// Only failed requests the test caused on purpose may be in the log: `allowed` are the
/// statuses, and the key and message texts must never appear at all.
fn assert_clean_console(
    entries: &[thirtyfour::BrowserLogEntry],
    allowed: &[&str],
    secrets: &[&str],
) {
    for entry in entries {
        for secret in secrets {
            assert!(
                !entry.message.contains(secret),
                "the console shows {secret:?}: {entry:?}"
            );
        }
        if entry.level == "SEVERE" {
            assert!(
                allowed.iter().any(|status| entry.message.contains(status)),
                "a console error: {entry:?}"
            );
        }
    }
}

#[bellhop_testdb::test]
async fn staff_sign_in_see_a_guest_arrive_live_reply_by_keyboard_close_and_reopen(pool: PgPool) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let addr = free_addr();
    let _server = serve(&pool, addr).await;
    let base = format!("http://{addr}");
    let alan = Guest::sign_in(&base, "102", "Turing").await;
    alan.start("Extra pillows, please").await;

    let browser = Browser::open(&base, 1280, 900).await;
    with_browser(browser, async |browser| {
        browser.goto("/inbox").await;

        // A wrong key: plain words, and the tab keeps nothing.
        browser.sign_in("not-a-real-key").await;
        browser
            .role_contains(
                "alert",
                "That staff key was not accepted. Check it and try again.",
                5,
            )
            .await;
        let stored = browser
            .script("return [sessionStorage.length, localStorage.length, document.cookie];")
            .await;
        assert_eq!(stored, json!([0, 0, ""]));
        // The refused request is the only thing the console shows (Chromium logs every 4xx).
        let refused = browser.console().await;
        assert_clean_console(&refused, &["401"], &["not-a-real-key"]);

        // The right key, typed and sent with Enter.
        let field = browser.field("Staff key").await;
        field.clear().await.unwrap();
        field.send_keys(STAFF_KEY).await.unwrap();
        field.send_keys(Key::Enter).await.unwrap();
        browser.button("Sign out").await;
        browser.role_contains("status", "Live", 5).await;
        let url = browser.driver.current_url().await.unwrap();
        assert!(!url.as_str().contains(STAFF_KEY), "the key is in {url}");
        let stored = browser
            .script("return [sessionStorage.getItem('bellhop.staffKey'), localStorage.length, document.cookie];")
            .await;
        assert_eq!(stored, json!([STAFF_KEY, 0, ""]));
        for label in ["Outlet", "Status", "Assignee"] {
            browser.field(label).await;
        }
        for label in ["Unread only", "Overdue only"] {
            assert_eq!(
                browser.field(label).await.attr("type").await.unwrap().as_deref(),
                Some("checkbox")
            );
        }
        browser.button("New conversation").await;

        // The conversation that was there before, marked unread.
        let pillows = list_entry("Room 102", "Extra pillows, please");
        browser
            .displayed(&format!("{pillows}[contains(., '1 unread')]"), 5)
            .await;

        // A guest's new conversation arrives without a reload, within two seconds.
        let ada = Guest::sign_in(&base, "101", "Lovelace").await;
        // Timed from the guest API's answer: the moment the conversation is committed.
        let code = ada.start("Could we get more towels?").await;
        let sent = Instant::now();
        let towels = list_entry("Room 101", "Could we get more towels?");
        browser.displayed(&towels, 2).await;
        let arrival = sent.elapsed();
        println!("a new guest conversation appeared in the inbox after {arrival:?}");
        assert!(arrival < Duration::from_secs(2), "took {arrival:?}");

        // Opened by keyboard; opening marks the guest's message read.
        browser.keys_to(&towels, Key::Enter).await;
        browser
            .role_contains("log", "Could we get more towels?", 3)
            .await;
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let conversation = staff_get(&base, &format!("/staff/v1/conversations/{code}")).await;
            if conversation["conversation"]["unreadCount"] == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "still unread: {conversation}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // A reply typed over two lines (Shift+Enter) and sent with Enter, once.
        let reply = browser.field("Reply").await;
        reply.focus().await.unwrap();
        reply.send_keys("Fresh towels").await.unwrap();
        reply.send_keys(Key::Shift + Key::Enter).await.unwrap();
        reply.send_keys("are on their way").await.unwrap();
        reply.send_keys(Key::Enter).await.unwrap();
        browser.role_contains("log", "are on their way", 3).await;
        let staff_messages: Vec<Value> = ada
            .messages(&code)
            .await
            .into_iter()
            .filter(|m| m["messageType"] == "ServiceCenter")
            .collect();
        assert_eq!(staff_messages.len(), 1, "{staff_messages:?}");
        assert_eq!(
            staff_messages[0]["content"],
            "Fresh towels\nare on their way"
        );
        assert_eq!(reply.value().await.unwrap().as_deref(), Some(""));
        // Tab moves on to Send, and the focus is visible there.
        reply.send_keys(Key::Tab).await.unwrap();
        let focused = browser
            .script("const e = document.activeElement; return [e.textContent, getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth];")
            .await;
        assert_eq!(focused, json!(["Send", "solid", "3px"]));
        browser.role_contains("log", "Not read yet", 2).await;

        // The guest reads the reply: the receipt changes without a reload.
        ada.read(&code).await;
        browser.role_contains("log", "Read by the guest", 2).await;

        // The guest answers while the conversation is open: it appears within two seconds.
        ada.say(&code, "Thank you so much").await;
        let sent = Instant::now();
        browser.role_contains("log", "Thank you so much", 2).await;
        println!(
            "a guest message appeared in the open conversation after {:?}",
            sent.elapsed()
        );
        browser.screenshot("desktop.png").await;

        // Unread only: the pillows request (unread) stays, the open conversation (read) goes.
        browser.click(&labelled("Unread only")).await;
        browser.displayed(&pillows, 3).await;
        browser.gone(&towels, 3).await;
        browser.click(&labelled("Unread only")).await;
        browser.displayed(&towels, 3).await;

        // Close, then reopen.
        browser.button("Close conversation").await.click().await.unwrap();
        browser.button("Reopen conversation").await;
        let closed = staff_get(&base, &format!("/staff/v1/conversations/{code}")).await;
        assert_eq!(closed["conversation"]["conversationStatus"], "Closed");
        // A reply to a closed conversation is refused in plain words.
        let reply = browser.field("Reply").await;
        reply.send_keys("One more thing").await.unwrap();
        browser.button("Send").await.click().await.unwrap();
        browser
            .role_contains("alert", "This conversation is closed. Reopen it to reply.", 3)
            .await;
        browser.button("Reopen conversation").await.click().await.unwrap();
        browser.button("Close conversation").await;
        browser.gone(&button("Reopen conversation"), 2).await;
        let reopened = staff_get(&base, &format!("/staff/v1/conversations/{code}")).await;
        assert_eq!(reopened["conversation"]["conversationStatus"], "Open");

        // A visitor's conversation shows the visitor's name and contact form.
        let mary = Guest::visitor(&base, "visitor-mary-7").await;
        mary.start_as_visitor(
            "Can I book a table for four tonight?",
            json!({"firstName": "Mary", "lastName": "Shelley", "phone": "+44 20 7946 0000"}),
        )
        .await;
        let visitor = list_entry("Mary Shelley", "Can I book a table for four tonight?");
        browser.click(&visitor).await;
        browser
            .role_contains("log", "Can I book a table for four tonight?", 3)
            .await;
        browser
            .displayed("//dl[dt[normalize-space(.)='phone']/following-sibling::dd[1][normalize-space(.)='+44 20 7946 0000']]", 3)
            .await;

        // Start a conversation with room 203's guest.
        browser.button("New conversation").await.click().await.unwrap();
        browser.field("Room").await.send_keys("203").await.unwrap();
        browser
            .field("Message")
            .await
            .send_keys("Your taxi is waiting")
            .await
            .unwrap();
        browser.button("Start").await.click().await.unwrap();
        browser.role_contains("log", "Your taxi is waiting", 3).await;
        browser
            .displayed(&list_entry("Room 203", "Your taxi is waiting"), 3)
            .await;

        // Signing out forgets the key.
        browser.button("Sign out").await.click().await.unwrap();
        browser.field("Staff key").await;
        let stored = browser.script("return sessionStorage.length;").await;
        assert_eq!(stored, json!(0));

        let log = browser.console().await;
        assert_clean_console(
            &log,
            &["409"],
            &[
                STAFF_KEY,
                "towels",
                "Thank you so much",
                "Extra pillows",
                "taxi",
                "Lovelace",
            ],
        );
    })
    .await;
}

#[bellhop_testdb::test]
async fn on_a_phone_the_inbox_fits_375_pixels_and_shows_when_it_is_offline_then_catches_up(
    pool: PgPool,
) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let addr = free_addr();
    let server = serve(&pool, addr).await;
    let base = format!("http://{addr}");
    let ada = Guest::sign_in(&base, "101", "Lovelace").await;
    let code = ada
        .start("Could someone look at the air conditioning? It rattles all night long and we cannot sleep")
        .await;
    ada.say(&code, "It is room 101, the one at the end of the corridor")
        .await;

    let browser = Browser::open(&base, 375, 812).await;
    with_browser(browser, async |browser| {
        browser.goto("/inbox").await;
        let width = browser.script("return window.innerWidth;").await;
        assert_eq!(width, json!(375), "the window is {width} px wide");
        browser
            .assert_no_horizontal_overflow("the sign-in page")
            .await;
        browser.sign_in(STAFF_KEY).await;
        browser.role_contains("status", "Live", 5).await;
        let air = list_entry("Room 101", "air conditioning");
        browser.displayed(&air, 5).await;
        browser.assert_no_horizontal_overflow("the list").await;
        browser.screenshot("phone-list.png").await;

        browser.click(&air).await;
        browser
            .role_contains("log", "the one at the end of the corridor", 3)
            .await;
        // On a phone the conversation takes the screen, with a way back.
        browser
            .gone(&list_entry("Room 101", "air conditioning"), 2)
            .await;
        browser
            .assert_no_horizontal_overflow("a conversation")
            .await;
        browser.screenshot("phone-conversation.png").await;
        let console = browser.console().await;
        assert_clean_console(&console, &[], &[STAFF_KEY, "corridor", "air conditioning"]);

        // The server goes away: the page says it is offline, and a reply says why it failed.
        drop(server);
        browser.role_contains("status", "Offline", 5).await;
        browser
            .keys_to(&labelled("Reply"), "Someone is on the way")
            .await;
        browser.keys_to(&labelled("Reply"), Key::Enter).await;
        browser
            .role_contains("alert", "The server cannot be reached", 3)
            .await;
        // It comes back; what happened while the page was away arrives without a reload.
        let _server = serve(&pool, addr).await;
        let grace = Guest::sign_in(&base, "203", "Hopper").await;
        grace.start("Is breakfast served on the terrace?").await;
        browser.role_contains("status", "Live", 15).await;
        // The same reply sent again is posted once.
        browser.button("Send").await.click().await.unwrap();
        browser
            .role_contains("log", "Someone is on the way", 3)
            .await;
        let staff = ada
            .messages(&code)
            .await
            .into_iter()
            .filter(|m| m["messageType"] == "ServiceCenter")
            .count();
        assert_eq!(staff, 1);
        browser
            .button("Back to the list")
            .await
            .click()
            .await
            .unwrap();
        browser
            .displayed(
                &list_entry("Room 203", "breakfast served on the terrace"),
                5,
            )
            .await;
    })
    .await;
}

/// Section 14 in the inbox: assignment and the assignee filter, a note kept apart from the
/// messages and from the guest, a quick reply edited before it is sent.
#[bellhop_testdb::test]
async fn staff_assign_a_conversation_to_themselves_leave_a_note_and_send_an_edited_quick_reply(
    pool: PgPool,
) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let addr = free_addr();
    let _server = serve(&pool, addr).await;
    let base = format!("http://{addr}");
    let ada = Guest::sign_in(&base, "101", "Lovelace").await;
    let code = ada.start("Towels for room 101, please").await;
    let alan = Guest::sign_in(&base, "102", "Turing").await;
    alan.start("Is the pool open today?").await;
    let towels = list_entry("Room 101", "Towels for room 101, please");
    let pool_question = list_entry("Room 102", "Is the pool open today?");

    let browser = Browser::open(&base, 1280, 900).await;
    with_browser(browser, async |browser| {
        browser.goto("/inbox").await;
        browser.sign_in(STAFF_KEY).await;
        browser.role_contains("status", "Live", 5).await;
        browser
            .displayed("//*[contains(., 'Signed in as Front Desk Demo')]", 5)
            .await;
        browser.click(&towels).await;
        browser.role_contains("log", "Towels for room 101", 3).await;

        // Assign to me; the filter Mine shows it and Unassigned does not.
        browser.button("Assign to me").await.click().await.unwrap();
        browser
            .displayed("//*[normalize-space(.)='Assigned to Front Desk Demo']", 3)
            .await;
        browser.button("Unassign").await;
        let assigned = staff_get(&base, &format!("/staff/v1/conversations/{code}")).await;
        assert_eq!(assigned["conversation"]["assignee"]["code"], "front-desk");
        SelectElement::new(&browser.field("Assignee").await)
            .await
            .unwrap()
            .select_by_visible_text("Mine")
            .await
            .unwrap();
        browser.displayed(&towels, 3).await;
        browser.gone(&pool_question, 3).await;
        SelectElement::new(&browser.field("Assignee").await)
            .await
            .unwrap()
            .select_by_visible_text("Unassigned")
            .await
            .unwrap();
        browser.displayed(&pool_question, 3).await;
        browser.gone(&towels, 3).await;
        SelectElement::new(&browser.field("Assignee").await)
            .await
            .unwrap()
            .select_by_visible_text("Anyone")
            .await
            .unwrap();
        browser.displayed(&towels, 3).await;

        // A note: shown with the notes, not in the messages, never to the guest.
        browser
            .field("Note")
            .await
            .send_keys("Housekeeping is short-staffed tonight")
            .await
            .unwrap();
        browser.button("Add note").await.click().await.unwrap();
        browser
            .displayed(
                "//li[contains(., 'Housekeeping is short-staffed tonight')][not(ancestor::*[@role='log'])]",
                3,
            )
            .await;
        let log = browser.driver.find(By::XPath("//*[@role='log']")).await.unwrap();
        assert!(!log.text().await.unwrap().contains("short-staffed"));
        assert!(ada
            .messages(&code)
            .await
            .iter()
            .all(|m| !m["content"].as_str().unwrap().contains("short-staffed")));

        // A quick reply lands in the reply box, rendered for this guest, and is edited there.
        SelectElement::new(&browser.field("Quick reply").await)
            .await
            .unwrap()
            .select_by_visible_text("Towels on the way")
            .await
            .unwrap();
        let reply = browser.field("Reply").await;
        let deadline = Instant::now() + Duration::from_secs(3);
        while reply.value().await.unwrap().unwrap_or_default().is_empty() {
            assert!(Instant::now() < deadline, "the quick reply was not inserted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            reply.value().await.unwrap().as_deref(),
            Some("Hello Ada, fresh towels are on their way to room 101.")
        );
        reply.send_keys(" Two bath sheets too.").await.unwrap();
        reply.send_keys(Key::Enter).await.unwrap();
        browser
            .role_contains("log", "Two bath sheets too.", 3)
            .await;
        let staff: Vec<Value> = ada
            .messages(&code)
            .await
            .into_iter()
            .filter(|m| m["messageType"] == "ServiceCenter")
            .collect();
        assert_eq!(
            staff.iter().map(|m| m["content"].clone()).collect::<Vec<_>>(),
            vec![json!("Hello Ada, fresh towels are on their way to room 101. Two bath sheets too.")]
        );

        browser.screenshot("desktop-workflow.png").await;

        let console = browser.console().await;
        assert_clean_console(&console, &[], &[STAFF_KEY, "short-staffed", "Towels"]);
    })
    .await;
}

/// Section 14's reply clock in the inbox: a conversation whose guest has waited past the
/// outlet's reply target is marked `Overdue` with how long, and the `Overdue only` filter
/// finds it.
#[bellhop_testdb::test]
async fn an_overdue_conversation_is_marked_with_how_long_the_guest_has_waited(pool: PgPool) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let addr = free_addr();
    let _server = serve(&pool, addr).await;
    let base = format!("http://{addr}");
    let ada = Guest::sign_in(&base, "101", "Lovelace").await;
    ada.start("Towels for room 101, please").await;
    let alan = Guest::sign_in(&base, "102", "Turing").await;
    alan.start("Is the pool open today?").await;
    let towels = list_entry("Room 101", "Towels for room 101, please");
    let pool_question = list_entry("Room 102", "Is the pool open today?");

    let browser = Browser::open(&base, 1280, 900).await;
    with_browser(browser, async |browser| {
        browser.goto("/inbox").await;
        browser.sign_in(STAFF_KEY).await;
        browser.role_contains("status", "Live", 5).await;
        browser.displayed(&towels, 5).await;
        browser
            .gone(&format!("{towels}[contains(., 'Overdue')]"), 1)
            .await;
        // Room 102 has waited 25 minutes past a 10-minute target: marked, and filtered.
        sqlx::query(
            "UPDATE conversations SET awaiting_reply_since = now() - interval '25 minutes', \
             reply_due_at = now() - interval '15 minutes' \
             WHERE property_id = (SELECT id FROM properties WHERE code = 'DEMO-HOTEL') \
             AND subject = 'Is the pool open today?'",
        )
        .execute(&pool)
        .await
        .unwrap();
        browser.click(&labelled("Overdue only")).await;
        browser
            .displayed(
                &format!("{pool_question}[contains(., 'Overdue')][contains(., 'waiting 25 min')]"),
                3,
            )
            .await;
        browser.gone(&towels, 3).await;
        browser.screenshot("desktop-overdue.png").await;
        let console = browser.console().await;
        assert_clean_console(&console, &[], &[STAFF_KEY, "Towels", "pool open"]);
    })
    .await;
}
