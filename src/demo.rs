//! `palisade demo`: placeholder
use std::net::SocketAddr;
/// Runs the demo.
pub async fn run(_listen: SocketAddr, _self_test: bool) -> anyhow::Result<std::process::ExitCode> {
    Ok(std::process::ExitCode::SUCCESS)
}
