//! The hub's real command line, built inside the test package so crash tests can run it as a
//! child process (Cargo exposes only a package's own binaries to its tests).

fn main() -> std::process::ExitCode {
    cloud_hub::cli::main()
}
