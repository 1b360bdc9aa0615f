//! The hub's container image and Helm chart (`installers/hub`) stay true to the operator
//! contract: the image runs a command line `cloud-hub` accepts, the chart passes the same one,
//! and every setting the chart sets is a real flag's environment twin.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cloud-hub");

fn hub() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../installers/hub")
}

/// The `["a", "b"]` list after `key` on one line.
fn list_after(text: &str, key: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with(key))
        .unwrap();
    let inner = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    inner
        .split(',')
        .map(|word| word.trim().trim_matches('"').to_owned())
        .collect()
}

#[test]
fn the_image_and_the_chart_run_a_command_line_cloud_hub_accepts() {
    let dockerfile = std::fs::read_to_string(hub().join("Dockerfile")).unwrap();
    let cmd = list_after(&dockerfile, "CMD");
    let deployment =
        std::fs::read_to_string(hub().join("helm/kibanda-hub/templates/deployment.yaml")).unwrap();
    assert_eq!(list_after(&deployment, "args:"), cmd);
    let output = Command::new(BIN).args(&cmd).arg("--help").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(dockerfile.contains("EXPOSE 4100/tcp 4101/udp"));
    assert!(deployment.contains("path: /readyz") && deployment.contains("path: /healthz"));
}

#[test]
fn every_setting_the_chart_passes_is_a_flag_of_cloud_hub_run() {
    let values = std::fs::read_to_string(hub().join("helm/kibanda-hub/values.yaml")).unwrap();
    let output = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = values
        .lines()
        .map(|line| line.trim().trim_start_matches("- "))
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .filter(|name| name.starts_with("KIBANDA_") || *name == "DATABASE_URL")
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(help.contains(name), "{name} is not a flag of cloud-hub run");
    }
}
