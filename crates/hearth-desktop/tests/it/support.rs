//! What every test module needs: waiting for a particular event.

use std::time::Duration;

use hearth_desktop::ipc::{AppEvent, HostConfig, HostStatus};
use hearth_desktop::{Desktop, DesktopConfig};

/// The camera and voice tests stream media and count frames; on a 2-core machine two at
/// once measure each other, so each holds this for its whole run.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Hosts `room` from the toggle (any port, no password); returns the port.
pub async fn host_room(host: &Desktop, room: &str) -> u16 {
    let status = host
        .handle
        .host_start(HostConfig {
            port: 0,
            room_name: room.into(),
            password: None,
            channels: Vec::new(),
        })
        .await
        .unwrap();
    let HostStatus::On { port, .. } = status else {
        panic!("not hosting: {status:?}")
    };
    port
}

/// A host who hosts a room from the toggle and joins it, and a guest who joins too; returns
/// both and the guest's member id.
pub async fn host_and_guest(config: DesktopConfig) -> (Desktop, Desktop, u64) {
    let host = Desktop::spawn(config.clone());
    let mut guest = Desktop::spawn(config);
    let port = host_room(&host, "room").await;
    let address = format!("127.0.0.1:{port}/room");
    host.handle
        .connect(address.clone(), "host".into(), None)
        .await
        .unwrap();
    guest
        .handle
        .connect(address, "guest".into(), None)
        .await
        .unwrap();
    let guest_id = expect(&mut guest, "the guest's welcome", |e| match e {
        AppEvent::Welcome { you, .. } => Some(*you),
        _ => None,
    })
    .await;
    (host, guest, guest_id)
}
