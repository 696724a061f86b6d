//! Hearth's room core: a sans-IO state machine for one server's rooms.
//!
//! The core owns every connection's state, every room's members, voice and camera state,
//! moderation and rate limits. It does no IO and never reads a clock: the shell (the
//! `hearth-server` crate) feeds it inputs stamped with the current time and drains its
//! outputs.
//!
//! ```text
//!   handle_connect / handle_command / handle_disconnect / handle_timeout / handle_shutdown
//!            │ (now: Millis, ConnId, Command)
//!            ▼
//!        RoomCore ── Store (history: SQLite in the server, memory in tests)
//!            │
//!            ▼  poll_output() -> Output::{Send, Broadcast, Close}
//! ```
//!
//! **Drain rule.** After every `handle_*` call the caller drains [`RoomCore::poll_output`]
//! until it returns `None`, and delivers outputs in that order. A chat message's `Broadcast`
//! only exists after the store accepted the write, so delivery implies durability.
//!
//! # Layout
//! - [`command`]: what a connection asks for ([`Command`]), already validated for shape.
//! - [`event`]: what the core tells connections ([`Event`]) and the views inside events.
//! - [`store`]: the history [`Store`] trait and the in-memory [`MemoryStore`].
//! - [`core`]: [`RoomCore`], the state machine.
//! - [`settings`]: [`Settings`], the limits and rooms the core enforces.
#![deny(missing_docs)]

pub mod command;
pub mod core;
pub mod event;
pub mod settings;
pub mod store;

mod bucket;
mod validate;

#[cfg(test)]
mod proptests;

pub use crate::command::{Command, ImageUpload, SignalPayload};
pub use crate::core::{Output, RoomCore};
pub use crate::event::{ErrorKind, Event, LeaveReason, MemberView, MessageView, Presence};
pub use crate::settings::{ChannelDef, ChannelKind, IceServerDef, RoomDef, Settings};
pub use crate::store::{MemoryStore, Store, StoreError, StoredMessage};

/// A point in time, in milliseconds. The shell makes it monotonic and anchors it to the Unix
/// epoch when it starts, so it serves both for timers and for message timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + ms`, saturating.
    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A connection's id, chosen by the shell and never reused while the server runs.
/// A member's id is the id of its connection.
pub type ConnId = u64;
