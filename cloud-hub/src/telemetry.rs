//! Logging set-up: human-readable by default, JSON with `KIBANDA_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("KIBANDA_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,quinn=warn,rustls=warn,sqlx=warn"));
    let json = std::env::var("KIBANDA_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
