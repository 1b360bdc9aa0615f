//! The operator contract of `cloud-hub`: admin commands on `DATABASE_URL`, result alone on the
//! last line, clear errors and a non-zero exit on bad input.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn admin_url() -> String {
    std::env::var("KIBANDA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Db(String, String);

impl Db {
    fn create() -> Db {
        let name = format!("kibanda_cli_{}", uuid::Uuid::new_v4().simple());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&admin_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .unwrap();
        });
        let base = admin_url().rsplit_once('/').unwrap().0.to_owned();
        Db(format!("{base}/{name}"), name)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let name = self.1.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok(pool) = sqlx::PgPool::connect(&admin_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await;
            }
        });
    }
}

fn hub(db: &Db, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cloud-hub"))
        .args(args)
        .env("DATABASE_URL", &db.0)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or("")
}

#[test]
fn an_operator_sets_up_a_tenant_outlet_code_and_token_on_a_fresh_database() {
    let db = Db::create();
    let (ok, out, err) = hub(
        &db,
        &["tenant", "create", "--slug", "acme", "--name", "Acme Cafes"],
    );
    assert!(ok, "{err}");
    assert_eq!(last_line(&out), "acme");
    let (ok, out, err) = hub(
        &db,
        &[
            "outlet",
            "create",
            "--tenant",
            "acme",
            "--code",
            "nbo-cbd",
            "--name",
            "Nairobi CBD",
            "--timezone",
            "Africa/Nairobi",
            "--currency",
            "KES",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(last_line(&out), "nbo-cbd");
    let (ok, out, err) = hub(
        &db,
        &["enrollment-code", "--tenant", "acme", "--outlet", "nbo-cbd"],
    );
    assert!(ok, "{err}");
    let code = last_line(&out);
    assert!(
        sync_protocol::enroll::EnrollmentCode::parse(code).is_ok(),
        "{code}"
    );
    let (ok, out, err) = hub(&db, &["dev-token", "--tenant", "acme", "--role", "manager"]);
    assert!(ok, "{err}");
    assert_eq!(last_line(&out).split('.').count(), 3, "a JWT");
    assert!(err.contains("DEV-ONLY"));
}

#[test]
fn bad_admin_input_fails_clearly_and_changes_nothing() {
    let db = Db::create();
    assert!(
        hub(
            &db,
            &["tenant", "create", "--slug", "acme", "--name", "Acme"]
        )
        .0
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["tenant", "create", "--slug", "acme", "--name", "Again"],
            "already exists",
        ),
        (
            &["tenant", "create", "--slug", "Bad Slug!", "--name", "X"],
            "slug",
        ),
        (
            &[
                "outlet",
                "create",
                "--tenant",
                "acme",
                "--code",
                "o1",
                "--name",
                "O",
                "--timezone",
                "Africa/Nairobi",
                "--currency",
                "KSH",
            ],
            "currency",
        ),
        (
            &[
                "outlet",
                "create",
                "--tenant",
                "ghost",
                "--code",
                "o1",
                "--name",
                "O",
                "--timezone",
                "Africa/Nairobi",
                "--currency",
                "KES",
            ],
            "no tenant",
        ),
        (
            &["enrollment-code", "--tenant", "acme", "--outlet", "nowhere"],
            "no outlet",
        ),
        (
            &["dev-token", "--tenant", "ghost", "--role", "manager"],
            "no tenant",
        ),
    ];
    for (args, expected) in cases {
        let (ok, _, err) = hub(&db, args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("backtrace"), "{err}");
    }
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_cloud-hub"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--database-url",
        "DATABASE_URL",
        "--http",
        "KIBANDA_HTTP",
        "--quic",
        "KIBANDA_QUIC",
        "0.0.0.0:4100",
        "0.0.0.0:4101",
    ] {
        assert!(help.contains(needle), "missing {needle} in:\n{help}");
    }
}
