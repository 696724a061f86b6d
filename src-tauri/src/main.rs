// Release builds on Windows should not open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // RUST_LOG overrides the default so a user can send us a detailed log without a rebuild.
    tracing_subscriber::fmt()
        .with_env_filter(hearth_server::without_frame_logging(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        ))
        .init();
    hearth_app::run().context("Hearth could not start")
}
