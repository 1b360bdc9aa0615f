//! The operator contract of `edge-node`.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn pair_device_prints_a_token_the_store_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["pair-device", "--name", "till-1", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(token.starts_with("kbd_"));
    let store =
        edge_node::store::Store::open(&dir.path().join(edge_node::config::STORE_FILE)).unwrap();
    let device = store
        .device_by_token_hash(&edge_node::services::devices::token_hash(&token))
        .unwrap()
        .unwrap();
    assert_eq!(device.name, "till-1");
}

#[test]
fn enrolling_against_a_missing_hub_or_with_a_bad_code_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args([
            "enroll",
            "--hub",
            "127.0.0.1:9",
            "--code",
            "not-a-code",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("invalid enrollment code"), "{err}");
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    for (command, needles) in [
        (
            "run",
            &[
                "--data-dir",
                "KIBANDA_DATA_DIR",
                "--listen",
                "KIBANDA_LISTEN",
                "0.0.0.0:4200",
                "--staff-idle-timeout-ms",
                "KIBANDA_STAFF_IDLE_TIMEOUT_MS",
                "--mdns",
                "KIBANDA_MDNS",
            ][..],
        ),
        (
            "enroll",
            &["--hub", "KIBANDA_HUB", "--code", "KIBANDA_ENROLLMENT_CODE"][..],
        ),
        ("pair-device", &["--name", "KIBANDA_DEVICE_NAME"][..]),
        (
            "add-staff",
            &["--name", "--role", "--pin", "KIBANDA_STAFF_PIN"][..],
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_edge-node"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        for needle in needles {
            assert!(
                help.contains(needle),
                "{command}: missing {needle} in:\n{help}"
            );
        }
    }
}

#[test]
fn wiping_a_store_with_unsynced_sales_is_refused_unless_they_are_exported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = std::sync::Arc::new(
            edge_node::store::Store::open(&dir.path().join(edge_node::config::STORE_FILE)).unwrap(),
        );
        edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let orders = edge_node::services::orders::OrderService::new(
                store.clone(),
                shared_model::Currency::kes(),
            );
            let order = orders
                .open(shared_model::OrderType::TakeOut, 1)
                .await
                .unwrap();
            orders
                .add_line(
                    edge_node::services::staff::Caller::unattended_terminal(),
                    order.id,
                    edge_node::services::orders::LineInput::units("sku-chai", 1),
                    None,
                    2,
                )
                .await
                .unwrap();
        });
    }
    let wipe = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_edge-node"))
            .args(["wipe", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap()
    };
    let refused = wipe(&[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("2 ops"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let export = dir.path().join("unsynced.jsonl");
    let without_force = wipe(&["--export", export.to_str().unwrap()]);
    assert!(!without_force.status.success());
    assert!(
        dir.path().join(edge_node::config::STORE_FILE).exists(),
        "nothing was wiped"
    );

    let forced = wipe(&["--export", export.to_str().unwrap(), "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert!(!dir.path().join(edge_node::config::STORE_FILE).exists());
}

#[test]
fn add_staff_creates_a_staff_member_on_a_box_never_online_keeping_only_the_pin_hash() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args([
            "add-staff",
            "--name",
            "Mama Njeri",
            "--role",
            "manager",
            "--pin",
            "4321",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store =
        edge_node::store::Store::open(&dir.path().join(edge_node::config::STORE_FILE)).unwrap();
    let members = store.staff_members().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, shared_model::staff::Role::Manager);
    assert!(
        members[0].pin_hash.starts_with("$argon2id$"),
        "only the hash is stored"
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args([
            "add-staff",
            "--name",
            "X",
            "--role",
            "owner",
            "--pin",
            "4321",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown role"));
    assert_eq!(store.staff_members().unwrap().len(), 1);
}
