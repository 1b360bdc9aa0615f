//! The published API contracts cannot drift from the handlers: the OpenAPI documents generated
//! from the code must equal the committed copies in `docs/api/`.
//! After an intended change: `KIBANDA_UPDATE_OPENAPI=1 cargo test -p cloud-hub --test openapi`.
#![allow(clippy::unwrap_used)]

use utoipa::OpenApi;

#[test]
fn the_committed_hub_openapi_document_matches_the_handlers() {
    let generated = cloud_hub::api::openapi::HubApiDoc::openapi()
        .to_pretty_json()
        .unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api/hub.openapi.json");
    if std::env::var("KIBANDA_UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "docs/api/hub.openapi.json is out of date with the handlers; regenerate it with \
         KIBANDA_UPDATE_OPENAPI=1 cargo test -p cloud-hub --test openapi and commit it"
    );
}
