//! The edge appliance packaging (`installers/edge`) stays true to the operator contract: the
//! systemd unit runs a command line `edge-node` accepts, every setting in the shipped env file is
//! a real flag's twin, and the installer stages the box and keeps the operator's settings on an
//! upgrade.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_edge-node");

fn installers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../installers/edge")
}

fn run_help() -> String {
    let output = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_units_command_line_is_one_edge_node_accepts() {
    let unit = std::fs::read_to_string(installers().join("kibanda-edge.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .unwrap();
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/edge-node"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args[0], "run");
    // The flags parse (clap refuses an unknown flag before it prints help).
    let output = Command::new(BIN)
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(unit.contains("EnvironmentFile=-/etc/kibanda/edge.env"));
    assert!(unit.contains("ReadWritePaths=/var/lib/kibanda-edge"));
    assert!(args.contains(&"/var/lib/kibanda-edge"));
}

#[test]
fn every_setting_in_the_shipped_env_file_is_a_flag_of_edge_node_run() {
    let env = std::fs::read_to_string(installers().join("edge.env")).unwrap();
    let help = run_help();
    let names: Vec<&str> = env
        .lines()
        .map(|line| line.trim_start_matches('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| name.starts_with("KIBANDA_"))
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    for name in names {
        assert!(help.contains(name), "{name} is not a flag of edge-node run");
    }
}

#[test]
fn the_installer_stages_the_box_and_keeps_the_operators_settings_on_upgrade() {
    let root = tempfile::tempdir().unwrap();
    let script = installers().join("install.sh");
    let install = || {
        Command::new("bash")
            .arg(&script)
            .args([
                "--root",
                root.path().to_str().unwrap(),
                "--binary",
                BIN,
                "--no-systemd",
            ])
            .output()
            .unwrap()
    };
    let output = install();
    assert!(output.status.success(), "{output:?}");
    let at = |path: &str| root.path().join(path);
    let staged = at("usr/local/bin/edge-node");
    let version = Command::new(&staged).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(at("etc/systemd/system/kibanda-edge.service").is_file());
    assert!(at("var/lib/kibanda-edge").is_dir());
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&at("etc/kibanda/edge.env")), 0o640);
    assert_eq!(mode(&at("var/lib/kibanda-edge")), 0o750);

    // The operator's settings survive an upgrade.
    std::fs::write(at("etc/kibanda/edge.env"), "KIBANDA_LISTEN=0.0.0.0:4300\n").unwrap();
    let output = install();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(at("etc/kibanda/edge.env")).unwrap(),
        "KIBANDA_LISTEN=0.0.0.0:4300\n"
    );

    // Without a binary it refuses clearly and installs nothing.
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(&script)
        .args(["--root", empty.path().to_str().unwrap(), "--no-systemd"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--binary"));
    assert!(std::fs::read_dir(empty.path()).unwrap().next().is_none());
}
