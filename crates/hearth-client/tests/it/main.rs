//! The client against a real in-process server over loopback: real sockets, real WebSocket
//! frames, a real SQLite history across restarts.

mod chat;
mod pinning;
mod reconnect;
mod support;
