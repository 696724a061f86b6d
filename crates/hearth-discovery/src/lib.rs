//! Hearth rooms on the LAN, advertised and found by mDNS (DNS-SD).
//!
//! - [`record`]: the pure core. What a room's TXT record holds, decoded without ever
//!   panicking on what strangers send ([`record::decode`]), the instance name, the choice of
//!   address, and the list of rooms found ([`record::Rooms`]).
//! - [`mdns`]: the thin shell over mdns-sd. An [`Advertiser`] registers a hosted room and
//!   updates its member count; a [`Browser`] keeps the list of rooms in one task.
//!
//! Both the advertiser and the browser take [`Interfaces`]: tests give them only a veth
//! inside a namespace they made, so no test multicasts on the machine's own interfaces. The
//! record's layout is specified in `docs/protocol.md`, "LAN discovery".
//!
//! This is the only crate that uses mdns-sd.
#![deny(missing_docs)]

pub mod mdns;
pub mod record;

pub use mdns::{Advertiser, Browser, DiscoveryError, Interfaces};
pub use record::{LanRoom, PROTOCOL_VERSION, RoomAd, SERVICE_TYPE};
