//! The browser kitchen display: a page the edge serves itself (`/kds`), so any screen on the LAN
//! with a browser becomes a KDS with no internet and nothing to install. The page pairs with a
//! code (`POST /v1/devices/register`) and then uses the same API and live stream as any KDS;
//! its token rides the WebSocket as a `kibanda.bearer.<token>` subprotocol, since browsers
//! cannot set headers on a WebSocket.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("kds/index.html");
const KDS_JS: &str = include_str!("kds/kds.js");
const KDS_CSS: &str = include_str!("kds/kds.css");

/// Everything the page loads comes from the edge; nothing may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The page changes with the edge's version: revalidate rather than run a stale copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", KDS_JS)
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", KDS_CSS)
}
