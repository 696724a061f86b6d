//! The thin shell over mdns-sd: an [`Advertiser`] for a hosted room and a [`Browser`] that
//! keeps the list of rooms on the LAN. What goes into the records and what comes out of them
//! is decided in [`crate::record`]; this module only moves it.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo, UnregisterStatus};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::record::{self, EncodeError, LanRoom, RoomAd, Rooms, SERVICE_TYPE};

/// How long [`Advertiser::stop`] waits for the daemon to confirm the goodbye was sent.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Which network interfaces mDNS may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Interfaces {
    /// Every interface but loopback: the app on a real LAN.
    #[default]
    All,
    /// Only the interfaces with these names (e.g. a test's veth inside a network namespace),
    /// so nothing is sent or answered anywhere else.
    Only(Vec<String>),
}

/// Why advertising or browsing failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon refused or is gone.
    #[error("mDNS failed: {0}")]
    Mdns(String),
    /// The room cannot be put in a TXT record.
    #[error("the room cannot be advertised: {0}")]
    Record(#[from] EncodeError),
}

impl From<mdns_sd::Error> for DiscoveryError {
    fn from(e: mdns_sd::Error) -> Self {
        // mdns-sd's error stays out of the public API, so upgrading it is not a breaking change.
        DiscoveryError::Mdns(e.to_string())
    }
}

/// A daemon (one thread of mdns-sd's) limited to `interfaces`, IPv4 and no loopback.
///
/// Selections apply in order, the last match winning, and they are queued before any
/// browse or register command, so no query or announcement leaves on another interface.
/// IPv4 only because the embedded server listens on IPv4 only; no loopback because nobody
/// else can hear it there (the host's own app hears its room through the LAN interface's
/// multicast loop).
fn daemon(interfaces: &Interfaces) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    if let Interfaces::Only(names) = interfaces {
        daemon.disable_interface(IfKind::All)?;
        let chosen: Vec<IfKind> = names.iter().map(|n| IfKind::Name(n.clone())).collect();
        daemon.enable_interface(chosen)?;
    }
    daemon.disable_interface(vec![IfKind::IPv6, IfKind::LoopbackV4, IfKind::LoopbackV6])?;
    Ok(daemon)
}

/// 32 random bits from the standard library's per-process hash keys, which are seeded by
/// the OS: enough to keep instance and host names of two hosts apart, without a dependency.
fn random_u32() -> u32 {
    RandomState::new().hash_one(std::process::id()) as u32
}

/// A room advertised on the LAN for as long as this value lives.
///
/// The service is `<instance>._hearth._tcp.local.` with the room in its TXT record
/// (`docs/protocol.md`, "LAN discovery"). [`Advertiser::stop`] withdraws it and waits for
/// the goodbye to be sent; dropping it withdraws it without waiting.
pub struct Advertiser {
    daemon: ServiceDaemon,
    info: ServiceInfo,
    ad: RoomAd,
    instance: String,
    host: String,
    port: u16,
    stopped: bool,
}

impl Advertiser {
    /// Starts advertising `ad`, served on TCP `port`, on `interfaces`. The addresses come
    /// from the interfaces themselves, and follow them when they change.
    pub fn start(
        interfaces: &Interfaces,
        ad: RoomAd,
        port: u16,
    ) -> Result<Advertiser, DiscoveryError> {
        let unique = random_u32();
        let instance = record::instance_name(&ad.name, unique);
        // The A records' name: unique too, or two hosts' addresses would merge.
        let host = format!("hearth-{unique:08x}.local.");
        let info = service_info(&instance, &host, port, &ad, true)?;
        let daemon = daemon(interfaces)?;
        daemon.register(info.clone())?;
        tracing::info!(
            service = info.get_fullname(),
            port,
            "advertising the room on the LAN"
        );
        Ok(Advertiser {
            daemon,
            info,
            ad,
            instance,
            host,
            port,
            stopped: false,
        })
    }

    /// The service's full name, which browsers key the room by.
    pub fn service(&self) -> &str {
        self.info.get_fullname()
    }

    /// What is advertised now.
    pub fn ad(&self) -> &RoomAd {
        &self.ad
    }

    /// Announces a new member count (nothing is sent when it did not change).
    pub fn set_members(&mut self, members: u32) -> Result<(), DiscoveryError> {
        if members == self.ad.members {
            return Ok(());
        }
        let mut ad = self.ad.clone();
        ad.members = members;
        // No probing this time: the name is already ours, and a probe would delay the new
        // count by most of a second.
        let info = service_info(&self.instance, &self.host, self.port, &ad, false)?;
        self.daemon.register(info.clone())?;
        self.info = info;
        self.ad = ad;
        Ok(())
    }

    /// Withdraws the room (browsers drop it at once) and stops the daemon.
    pub async fn stop(mut self) {
        self.stopped = true;
        if let Ok(status) = self.daemon.unregister(self.info.get_fullname()) {
            match tokio::time::timeout(GOODBYE_WAIT, status.recv_async()).await {
                Ok(Ok(UnregisterStatus::OK)) => {}
                other => tracing::warn!(?other, "the room's mDNS goodbye was not confirmed"),
            }
        }
        let _ = self.daemon.shutdown();
        tracing::info!(service = self.info.get_fullname(), "stopped advertising");
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        if !self.stopped {
            // The daemon says goodbye for every service it still has when it shuts down.
            let _ = self.daemon.shutdown();
        }
    }
}

fn service_info(
    instance: &str,
    host: &str,
    port: u16,
    ad: &RoomAd,
    probe: bool,
) -> Result<ServiceInfo, DiscoveryError> {
    let txt = record::encode(ad)?;
    let mut info = ServiceInfo::new(SERVICE_TYPE, instance, host, (), port, txt.as_slice())?
        .enable_addr_auto();
    info.set_requires_probe(probe);
    Ok(info)
}

/// The rooms on the LAN, kept up to date by a task that owns the mDNS browse.
///
/// Each room is listed once however many addresses or interfaces it is seen on, at its best
/// address ([`record::best_address`]: IPv4 first). The task ends, and the daemon with it,
/// when the shutdown future given to [`Browser::start`] completes or when this value and
/// every receiver from [`Browser::subscribe`] are dropped.
pub struct Browser {
    rooms: watch::Receiver<Vec<LanRoom>>,
    task: JoinHandle<()>,
}

impl Browser {
    /// Starts browsing on `interfaces`. Must be called inside a tokio runtime.
    pub fn start(
        interfaces: &Interfaces,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Browser, DiscoveryError> {
        let daemon = daemon(interfaces)?;
        let events = daemon.browse(SERVICE_TYPE)?;
        let (tx, rooms) = watch::channel(Vec::new());
        let task = tokio::spawn(browse(daemon, events, tx, shutdown));
        Ok(Browser { rooms, task })
    }

    /// The rooms found now, by name.
    pub fn rooms(&self) -> Vec<LanRoom> {
        self.rooms.borrow().clone()
    }

    /// A receiver that wakes whenever the list changes.
    pub fn subscribe(&self) -> watch::Receiver<Vec<LanRoom>> {
        self.rooms.clone()
    }

    /// Waits for the task to end (after the shutdown future completed).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// The browse task: the only owner of the event receiver and of the room map.
async fn browse(
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    rooms: watch::Sender<Vec<LanRoom>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut found = Rooms::default();
    tokio::pin!(shutdown);
    loop {
        let event = tokio::select! {
            () = &mut shutdown => break,
            () = rooms.closed() => break,
            event = events.recv_async() => match event {
                Ok(event) => event,
                // The daemon is gone; the list can no longer be kept.
                Err(_) => break,
            },
        };
        let changed = match event {
            ServiceEvent::ServiceResolved(service) => {
                let addresses = service.get_addresses().iter().map(|a| a.to_ip_addr());
                let txt = service.get_properties().iter().map(|p| (p.key(), p.val()));
                match found.resolved(&service.fullname, addresses, service.port, txt) {
                    Ok(changed) => changed,
                    Err(e) => {
                        tracing::debug!(service = service.fullname, error = %e, "not a room we can list");
                        // It may have been listed before with a record we could read.
                        true
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => found.removed(&fullname),
            _ => false,
        };
        if changed {
            let list = found.list();
            rooms.send_if_modified(|current| {
                let modified = *current != list;
                *current = list;
                modified
            });
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let _ = daemon.shutdown();
}
