//! The code flow as a person meets it: a real headless Chromium signs in on the
//! login page and clicks Allow. With PORTCULLIS_SCREENSHOTS=DIR set, the pages are
//! saved there as PNGs (the README's screenshots come from here).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use portcullis_core::admin::ClientSpec;
use portcullis_core::model::GrantType;
use serde_json::{Value, json};

use crate::browser::{param, pkce_pair, redirect_params};
use crate::harness::TestServer;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Starts chromedriver on a free port. Missing: a failure naming what to install,
/// unless the caller opted out with `PORTCULLIS_TEST_SKIP_BROWSER=1` (then `None`, a
/// skip with a note), so a machine without a browser never reports the test passed.
async fn chromedriver() -> Option<(Driver, String)> {
    const SKIP: &str = "PORTCULLIS_TEST_SKIP_BROWSER";
    for needed in [CHROMEDRIVER, CHROMIUM] {
        if !std::path::Path::new(needed).exists() {
            if portcullis_store::testing::opted_out(SKIP) {
                println!("{SKIP}=1 and {needed} is missing: browser test skipped");
                return None;
            }
            panic!("{needed} is missing: apt-get install chromium chromium-driver, or set {SKIP}=1 to skip");
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            return Some((Driver(child), url));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not start");
}

async fn shot(c: &fantoccini::Client, name: &str) {
    if let Some(dir) = std::env::var_os("PORTCULLIS_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test]
async fn a_person_signs_in_and_allows_in_a_real_browser() {
    let Some((_driver, webdriver)) = chromedriver().await else { return };
    let s = TestServer::start().await;
    // The client lands back on a loopback page of the test server itself.
    let redirect = format!("{}/healthz", s.base);
    let client = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("Invoice App".into()),
                public: true,
                grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
                redirect_uris: Some(vec![redirect.clone()]),
                scopes: Some(vec!["invoices.read".into(), "invoices.write".into()]),
                ..Default::default()
            },
        )
        .await;
    s.user("default", "alice", "correct horse battery", &["billing"]).await;
    let (verifier, challenge) = pkce_pair();
    let url = crate::browser::authorize_url(
        &s,
        "default",
        &[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", &redirect),
            ("scope", "invoices.read invoices.write"),
            ("state", "from-the-browser"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );

    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=720,640"
            ]
        }
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector).capabilities(caps).connect(&webdriver).await.expect("a browser session");

    c.goto(&url).await.unwrap();
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("alice").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("correct horse battery").await.unwrap();
    shot(&c, "login").await;
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();

    let allow = c.wait().for_element(Locator::Css("button[value=allow]")).await.unwrap();
    let page = c.source().await.unwrap();
    assert!(page.contains("Invoice App") && page.contains("Read invoices"), "the consent page names client and scopes");
    shot(&c, "consent").await;
    allow.click().await.unwrap();

    let mut landed = c.current_url().await.unwrap();
    for _ in 0..50 {
        if landed.as_str().starts_with(&redirect) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        landed = c.current_url().await.unwrap();
    }
    c.close().await.unwrap();
    assert!(landed.as_str().starts_with(&redirect), "the browser ended at {landed}");
    let params = redirect_params(landed.as_str());
    assert_eq!(param(&params, "state").as_deref(), Some("from-the-browser"));
    let code = param(&params, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", client.id.as_str()),
    ];
    let r = s.post_form(&s.url("default", "/oauth/token"), None, &form).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["authorities"], json!(["billing"]));
}
