//! Hearth's headless client core, shared by the desktop app, `hearth-cli` and tests.
//!
//! # Layout
//! - [`core`]: [`ClientCore`], the sans-IO state machine. It keeps the room as one member
//!   sees it (channels, members with presence and voice state, chat per conversation with
//!   edits, deletes, reactions, replies and typing, DMs), turns [`Command`]s into wire
//!   messages and server messages into [`Event`]s, tracks unacknowledged chat, and decides
//!   when to reconnect. No tokio, no clock: time is an input.
//! - [`backoff`]: reconnect delays.
//! - [`client`]: [`Client`], the tokio shell: one task owns the WebSocket (ws:// or wss://)
//!   and the core; commands go in through a channel and events come out through another.
//! - [`connection`]: [`Connection`], a bare typed WebSocket for scripting the protocol one
//!   message at a time (the server's tests use it).
#![deny(missing_docs)]

pub mod backoff;
pub mod client;
pub mod connection;
pub mod core;
pub mod pin;

pub use backoff::Backoff;
pub use client::{Client, ClientHandle, ClientOptions, Snapshot, Trust};
pub use connection::{ClientError, CloseFrame, Connection, Hello};
pub use core::{
    ClientCore, ClientIds, CloseReason, Command, Conversation, CoreOptions, Event, Millis, Output, PendingChat, Phase,
};
