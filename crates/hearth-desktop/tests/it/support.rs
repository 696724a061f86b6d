//! What every test module needs: waiting for a particular event.

use std::time::Duration;

use hearth_desktop::Desktop;
use hearth_desktop::ipc::AppEvent;

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(10);

/// Waits for an event that `pick` accepts, skipping others.
pub async fn expect<T>(
    desktop: &mut Desktop,
    what: &str,
    mut pick: impl FnMut(&AppEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = desktop
                .events
                .recv()
                .await
                .unwrap_or_else(|| panic!("the core ended while waiting for {what}"));
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
