//! Leak.
