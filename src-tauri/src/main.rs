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
    // Before GTK or any thread starts: this may restart the process with another renderer.
    #[cfg(target_os = "linux")]
    hearth_app::renderer::choose();
    hearth_app::run().context("Hearth could not start")
}
