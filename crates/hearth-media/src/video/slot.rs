//! A single-slot mailbox where the newest frame wins, between a producer (a decoder) and a
//! slow consumer (the UI drawing frames): a queue would grow latency without bound, so an
//! unread frame is overwritten and counted instead.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug)]
struct Inner<T> {
    frame: Option<T>,
    overwritten: u64,
    closed: bool,
}

/// A newest-wins single-frame mailbox, shareable between threads (`Arc<FrameSlot<T>>`).
#[derive(Debug)]
pub struct FrameSlot<T> {
    inner: Mutex<Inner<T>>,
    ready: Condvar,
}

impl<T> Default for FrameSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FrameSlot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                frame: None,
                overwritten: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock cannot leave the slot inconsistent (every update
        // is a single assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a frame in the slot, replacing (and counting) one the consumer has not taken.
    pub fn put(&self, frame: T) {
        let mut inner = self.lock();
        if inner.frame.replace(frame).is_some() {
            inner.overwritten += 1;
        }
        drop(inner);
        self.ready.notify_all();
    }

    /// Takes the newest frame, if any.
    pub fn take(&self) -> Option<T> {
        self.lock().frame.take()
    }

    /// Waits up to `timeout` for a frame. `None` on timeout, or when the slot is closed and
    /// empty.
    pub fn take_timeout(&self, timeout: Duration) -> Option<T> {
        let inner = self.lock();
        let (mut inner, _) = self
            .ready
            .wait_timeout_while(inner, timeout, |i| i.frame.is_none() && !i.closed)
            .unwrap_or_else(|e| e.into_inner());
        inner.frame.take()
    }

    /// Marks the stream ended: waiters wake up; a frame still in the slot can be taken.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Frames replaced before the consumer took them.
    pub fn overwritten(&self) -> u64 {
        self.lock().overwritten
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn newest_wins_and_overwrites_are_counted() {
        let slot = FrameSlot::new();
        assert_eq!(slot.take(), None);
        slot.put(1);
        slot.put(2);
        slot.put(3);
        assert_eq!(slot.take(), Some(3));
        assert_eq!(slot.take(), None);
        assert_eq!(slot.overwritten(), 2);
    }

    #[test]
    fn a_waiter_wakes_for_a_frame_and_for_close() {
        let slot = Arc::new(FrameSlot::new());
        let s = slot.clone();
        let t = std::thread::spawn(move || s.take_timeout(Duration::from_secs(10)));
        slot.put(5u32);
        assert_eq!(t.join().unwrap(), Some(5));
        let s = slot.clone();
        let t = std::thread::spawn(move || s.take_timeout(Duration::from_secs(10)));
        slot.close();
        assert_eq!(t.join().unwrap(), None);
        assert_eq!(slot.take_timeout(Duration::from_millis(1)), None);
    }
}
