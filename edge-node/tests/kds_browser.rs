//! The browser kitchen display (`/kds`): a real headless Chromium, driven over the DevTools
//! protocol, pairs the screen with a manager's code, shows a station's tickets live as the till
//! sends them, bumps and recalls them, and goes back to pairing when the screen is disabled.
//! Also: the stream takes a browser's token as a WebSocket subprotocol, and the page loads
//! nothing from outside the edge.
//!
//! Needs Chromium (`apt-get install chromium`; `KIBANDA_CHROMIUM` names another binary).
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge, serve};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Routes tea to the bar and signs a manager in on an office terminal; returns its token.
async fn kitchen_with_manager(edge: &TestEdge) -> String {
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    let office = edge.pair("office");
    edge.sign_in_as(&office, &manager).await;
    let (status, routes) = edge
        .call_as(
            &office,
            "PUT",
            "/v1/kitchen/routes",
            Some(json!({"routes": [{"match": "category", "value": "tea", "station": "bar"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{routes}");
    office
}

async fn pairing_code(edge: &TestEdge, office: &str) -> String {
    let (status, code) = edge
        .call_as(
            office,
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "kds"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    code["code"].as_str().unwrap().to_owned()
}

async fn send_chai(edge: &TestEdge, quantity: i64) -> String {
    let (status, order) = edge
        .call("POST", "/v1/orders", Some(json!({"type": "dine_in"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-chai", "quantity": quantity})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, sent) = edge
        .call("POST", &format!("/v1/orders/{id}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    id
}

// ---- a browser over the DevTools protocol -----------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Headless Chromium with one page, driven by `Runtime.evaluate`.
struct Browser {
    child: std::process::Child,
    _profile: tempfile::TempDir,
    socket: Socket,
    session: String,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> String {
    if let Ok(path) = std::env::var("KIBANDA_CHROMIUM") {
        return path;
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    panic!(
        "the browser KDS test needs Chromium: `apt-get install chromium` (or set KIBANDA_CHROMIUM)"
    );
}

impl Browser {
    async fn open(url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose and the browser's DevTools path here.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(Instant::now() < deadline, "Chromium did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.into_client_request().unwrap())
            .await
            .unwrap();
        let mut browser = Browser {
            child,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = browser
            .command(None, "Target.createTarget", json!({"url": url}))
            .await;
        let attached = browser
            .command(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    async fn command(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        loop {
            let Message::Text(text) = self.socket.next().await.unwrap().unwrap() else {
                continue;
            };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let session = self.session.clone();
        let result = self
            .command(
                Some(&session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy in the page (an exception, e.g. while the page still
    /// loads, counts as not yet); returns its value.
    async fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let guarded =
            format!("(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()");
        loop {
            let value = self.eval(&guarded).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "the page never showed {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

const TICKETS_TEXT: &str =
    "[...document.querySelectorAll('.ticket')].map(t => t.textContent).join('|')";

#[tokio::test]
async fn the_browser_kitchen_display_pairs_shows_tickets_live_and_bumps_them() {
    let edge = edge();
    let office = kitchen_with_manager(&edge).await;
    let served = serve(&edge).await;
    let code = pairing_code(&edge, &office).await;
    let mut browser = Browser::open(&format!("http://{}/kds?station=bar", served.addr)).await;

    // An unpaired screen asks for a code; a wrong one is refused on the page.
    browser
        .wait_for(
            "the pairing form",
            "!document.getElementById('pairing').hidden",
        )
        .await;
    browser
        .eval("document.getElementById('pair-code').value = '000000'; document.getElementById('pair-form').requestSubmit(); true")
        .await;
    browser
        .wait_for(
            "the refusal",
            "document.getElementById('pair-error').textContent",
        )
        .await;
    browser
        .eval(&format!("document.getElementById('pair-code').value = '{code}'; document.getElementById('pair-name').value = 'Bar screen'; document.getElementById('pair-form').requestSubmit(); true"))
        .await;
    browser
        .wait_for(
            "the live link",
            "document.getElementById('link').textContent === 'live'",
        )
        .await;
    let (_, devices) = edge.call_as(&office, "GET", "/v1/devices", None).await;
    let screen = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["name"] == "Bar screen")
        .unwrap_or_else(|| panic!("{devices}"))
        .clone();
    assert_eq!(screen["kind"], "kds");

    // The till sends two orders: both appear live, with the all-day count.
    send_chai(&edge, 2).await;
    send_chai(&edge, 1).await;
    let text = browser
        .wait_for(
            "both tickets",
            &format!("document.querySelectorAll('.ticket').length === 2 && {TICKETS_TEXT}"),
        )
        .await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("2 × Masala chai") && text.contains("1 × Masala chai"),
        "{text}"
    );
    let all_day = browser
        .eval("document.querySelector('#all-day tbody').textContent")
        .await;
    assert_eq!(all_day, "Masala chai3");
    if let Ok(path) = std::env::var("KIBANDA_KDS_SCREENSHOT") {
        // By hand: a picture of the board, for the docs or a look.
        let session = browser.session.clone();
        let shot = browser
            .command(
                Some(&session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await;
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
    let timer = browser
        .eval("document.querySelector('.ticket .timer').textContent")
        .await;
    assert!(timer.as_str().unwrap().starts_with("0:0"), "{timer}");

    // Bump one on the screen: the kitchen's state changes, the screen follows.
    browser
        .eval("document.querySelector('.ticket button[data-action=\"bump\"]').click(); true")
        .await;
    browser
        .wait_for(
            "one ticket left",
            "document.querySelectorAll('.ticket').length === 1",
        )
        .await;
    let (_, open) = edge
        .call("GET", "/v1/kitchen/tickets?station=bar", None)
        .await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");

    // Recall brings it back.
    browser
        .eval("document.getElementById('recall').click(); true")
        .await;
    browser
        .wait_for(
            "the recalled ticket",
            "document.querySelectorAll('.ticket').length === 2",
        )
        .await;
    let (_, open) = edge
        .call("GET", "/v1/kitchen/tickets?station=bar", None)
        .await;
    assert_eq!(open.as_array().unwrap().len(), 2, "{open}");

    // A manager disables the screen: its next action sends it back to pairing.
    let (status, body) = edge
        .call_as(
            &office,
            "PATCH",
            &format!("/v1/devices/{}", screen["id"].as_str().unwrap()),
            Some(json!({"disabled": true})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    browser
        .eval("document.querySelector('.ticket button[data-action=\"bump\"]').click(); true")
        .await;
    browser
        .wait_for(
            "the pairing form again",
            "!document.getElementById('pairing').hidden",
        )
        .await;
    let (_, open) = edge
        .call("GET", "/v1/kitchen/tickets?station=bar", None)
        .await;
    assert_eq!(
        open.as_array().unwrap().len(),
        2,
        "a disabled screen changes nothing"
    );
}

#[tokio::test]
async fn the_stream_takes_a_browsers_token_as_a_subprotocol() {
    let edge = edge();
    let office = kitchen_with_manager(&edge).await;
    let served = serve(&edge).await;
    let connect = |protocols: String| {
        let mut request = format!("ws://{}/v1/stream?after=0", served.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let (mut socket, response) = connect(format!("kibanda.v1, kibanda.bearer.{office}"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "kibanda.v1",
        "the edge answers with the stream's protocol, as browsers require"
    );
    send_chai(&edge, 1).await;
    let event = loop {
        if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
            break serde_json::from_str::<Value>(&text).unwrap();
        }
    };
    assert_eq!(event["kind"], "ticket.created");

    let refused = connect("kibanda.v1, kibanda.bearer.kbd_not-a-token".into()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("a wrong token must be refused: {other:?}"),
    }
    // Outside a WebSocket upgrade the subprotocol carries no token.
    sync_protocol::quic::install_crypto_provider();
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{}/v1/orders", served.addr))
        .header("sec-websocket-protocol", format!("kibanda.bearer.{office}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_kds_page_loads_nothing_from_outside_the_edge() {
    let edge = edge();
    let served = serve(&edge).await;
    sync_protocol::quic::install_crypto_provider();
    let client = reqwest::Client::new();
    for (path, content_type) in [
        ("/kds", "text/html"),
        ("/kds/kds.js", "text/javascript"),
        ("/kds/kds.css", "text/css"),
    ] {
        let response = client
            .get(format!("http://{}{path}", served.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type)
        );
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} names an outside address"
        );
    }
}
