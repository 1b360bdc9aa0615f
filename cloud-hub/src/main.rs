//! `cloud-hub`: the hub's command line; see [`cloud_hub::cli`].

fn main() -> std::process::ExitCode {
    cloud_hub::cli::main()
}
