//! Writing to sockets: the writer shards, and the socket a connection task reads through.
//!
//! A broadcast to a room of thousands used to cost one queue push and one task wake-up per
//! member before the member's connection task made its `writev`; at 5,000 members that
//! bookkeeping was a fifth of the server's CPU per delivery. Now the room task hands each
//! broadcast to a few *writer shards* (one per runtime worker, so every core writes), and a
//! shard writes the frame straight to each of its members' sockets with one non-blocking
//! `writev`. A connection's queue is used only when its socket does not take a frame at once.
//!
//! # Who writes a socket
//! Exactly one task writes a given socket at any time; the right to write moves only by
//! message, so no lock is needed and no frame can land inside another.
//! - While a connection is *direct*, its shard holds the right and writes frames itself.
//! - The shard gives the right to the connection task by pushing onto the connection's
//!   queue, and stops writing that socket: when a direct write does not complete (the rest of
//!   the frame goes first in the queue), when the connection task asks for it because
//!   tungstenite has a pong to send ([`ShardMsg::Want`], answered with [`Outbound::Handover`]),
//!   and when the connection is closed or dropped as too slow.
//! - The connection task writes what it was queued. When its queue is empty and tungstenite
//!   has nothing left to write, it reports how many queue messages it has taken
//!   ([`ShardMsg::Idle`]) and stops writing. The shard goes back to direct only if it has
//!   queued exactly that many; otherwise more is on its way to the connection task, which
//!   keeps the right and reports again.
//!
//! Each connection belongs to one shard, and everything for it passes through that shard's
//! channel in order, so a member gets its messages in the order the room produced them.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hearth_room::ConnId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::{Outbound, WRITE_BATCH};

/// What the room task and the connection tasks tell a writer shard.
pub(crate) enum ShardMsg {
    /// A new connection; it starts direct (the handshake is written, nothing is pending).
    Add { id: ConnId, socket: Arc<TcpStream>, outbox: mpsc::Sender<Outbound> },
    /// The room forgot the connection; its task has ended or is ending.
    Remove { id: ConnId },
    /// One text message for each of these connections.
    Text { to: Vec<ConnId>, text: Utf8Bytes },
    /// Close the connection after what was sent to it.
    Close { id: ConnId, code: u16, reason: String },
    /// From the connection task: it has written all `taken` queue messages it received and
    /// gives the write right back.
    Idle { id: ConnId, taken: u64 },
    /// From the connection task: tungstenite has a control frame to write.
    Want { id: ConnId },
}

/// The senders of every writer shard; a connection's shard is fixed by its id.
#[derive(Clone)]
pub(crate) struct Shards {
    senders: Vec<mpsc::Sender<ShardMsg>>,
}

impl Shards {
    /// Starts `count` shards (at least one) in `tasks`. Each reports the connections it
    /// dropped as too slow on `slow`.
    pub(crate) fn start(
        count: usize,
        slow: &mpsc::UnboundedSender<ConnId>,
        tasks: &mut tokio::task::JoinSet<()>,
    ) -> Shards {
        let senders = (0..count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(SHARD_INBOX);
                tasks.spawn(shard(rx, slow.clone()));
                tx
            })
            .collect();
        Shards { senders }
    }

    pub(crate) fn count(&self) -> usize {
        self.senders.len()
    }

    pub(crate) fn index(&self, id: ConnId) -> usize {
        (id % self.senders.len() as u64) as usize
    }

    /// Sends to the shard of connection `id`, waiting while its inbox is full. A send fails
    /// only once the shard has ended, which happens only at shutdown, when nothing is left to
    /// write.
    pub(crate) async fn send(&self, id: ConnId, msg: ShardMsg) {
        let _ = self.senders[self.index(id)].send(msg).await;
    }

    pub(crate) async fn send_to_shard(&self, shard: usize, msg: ShardMsg) {
        let _ = self.senders[shard].send(msg).await;
    }
}

/// Messages waiting for a shard. When a room produces faster than the shards write (a flood
/// of broadcasts), the room task waits for room here, its own inbox fills up, and the
/// connection tasks stop reading: memory stays bounded, as with every other queue.
const SHARD_INBOX: usize = 256;

/// Members a shard writes to before it lets the other tasks of its worker run. A broadcast
/// to thousands takes tens of milliseconds of writes; without a pause, the connection tasks
/// and the room task queued behind it (the next messages of a busy room among them) would
/// wait for all of it.
const DELIVERIES_PER_YIELD: usize = 128;

/// A shard's view of one connection.
struct Writer {
    socket: Arc<TcpStream>,
    outbox: mpsc::Sender<Outbound>,
    /// Messages pushed onto the queue since the connection started.
    queued: u64,
    /// Whether the shard holds the write right.
    direct: bool,
    /// Messages of the batch being written that are for this connection, in order; empty
    /// (and unallocated) between batches.
    pending: Vec<Utf8Bytes>,
}

/// One writer shard: owns the write side of its connections. It never waits for anyone (its
/// writes and queue pushes do not block), so the tasks that wait for room in its inbox
/// always get it.
async fn shard(mut inbox: mpsc::Receiver<ShardMsg>, slow: mpsc::UnboundedSender<ConnId>) {
    let mut writers: HashMap<ConnId, Writer> = HashMap::new();
    // Connections with pending messages in the batch being written, in first-message order.
    let mut touched: Vec<ConnId> = Vec::new();
    let mut next = None;
    loop {
        let msg = match next.take() {
            Some(msg) => msg,
            None => match inbox.recv().await {
                Some(msg) => msg,
                None => return,
            },
        };
        match msg {
            ShardMsg::Add { id, socket, outbox } => {
                writers.insert(id, Writer { socket, outbox, queued: 0, direct: true, pending: Vec::new() });
            }
            ShardMsg::Remove { id } => {
                writers.remove(&id);
            }
            ShardMsg::Text { to, text } => {
                let second = match inbox.try_recv() {
                    Ok(ShardMsg::Text { to, text }) => Some((to, text)),
                    Ok(other) => {
                        next = Some(other);
                        None
                    }
                    Err(_) => None,
                };
                let Some((to2, text2)) = second else {
                    // The common case of a quiet room: one message. Its frame is laid out once
                    // in one buffer, so that each member costs a plain `write` and not even a
                    // copy of the message's reference.
                    let texts = std::slice::from_ref(&text);
                    let (header, header_len) = frame_header(text.len());
                    let frame = [&header[..header_len], text.as_bytes()].concat();
                    for (i, id) in to.into_iter().enumerate() {
                        deliver(&mut writers, id, texts, Some(&frame), &slow);
                        if i % DELIVERIES_PER_YIELD == DELIVERIES_PER_YIELD - 1 {
                            tokio::task::yield_now().await;
                        }
                    }
                    continue;
                };
                // Several messages are waiting (a busy room, a join storm): each member gets
                // all of its own with one `writev`.
                let mut gather = |to: Vec<ConnId>, text: Utf8Bytes| {
                    for id in to {
                        if let Some(w) = writers.get_mut(&id) {
                            if w.pending.is_empty() {
                                touched.push(id);
                            }
                            w.pending.push(text.clone());
                        }
                    }
                };
                gather(to, text);
                gather(to2, text2);
                for _ in 2..WRITE_BATCH {
                    match inbox.try_recv() {
                        Ok(ShardMsg::Text { to, text }) => gather(to, text),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                for (i, id) in touched.drain(..).enumerate() {
                    if let Some(w) = writers.get_mut(&id) {
                        let texts = std::mem::take(&mut w.pending);
                        deliver(&mut writers, id, &texts, None, &slow);
                    }
                    if i % DELIVERIES_PER_YIELD == DELIVERIES_PER_YIELD - 1 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            ShardMsg::Close { id, code, reason } => {
                // The queued close hands the write right over for good.
                if let Some(w) = writers.remove(&id) {
                    let _ = w.outbox.try_send(Outbound::Close { code, reason });
                }
            }
            ShardMsg::Idle { id, taken } => {
                if let Some(w) = writers.get_mut(&id)
                    && w.queued == taken
                {
                    w.direct = true;
                }
            }
            ShardMsg::Want { id } => {
                if let Some(w) = writers.get_mut(&id)
                    && w.direct
                {
                    w.direct = false;
                    queue(&mut writers, id, Outbound::Handover, &slow);
                }
            }
        }
    }
}

/// Writes `texts` to connection `id` now if it is direct and its socket takes them, and
/// queues what is left otherwise. `frame`, if given, is the one text's whole frame.
fn deliver(
    writers: &mut HashMap<ConnId, Writer>,
    id: ConnId,
    texts: &[Utf8Bytes],
    frame: Option<&[u8]>,
    slow: &mpsc::UnboundedSender<ConnId>,
) {
    let Some(w) = writers.get_mut(&id) else { return };
    let mut written = 0;
    if w.direct {
        let attempt = match frame {
            Some(frame) => match w.socket.try_write(frame) {
                Ok(n) => Ok((n, frame.len())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, frame.len())),
                Err(e) => Err(e),
            },
            None => try_write_frames(&w.socket, texts.iter().map(|t| (t, 0))),
        };
        // An error other than a full buffer means the socket is dead; the connection task
        // finds that out on its own write and ends, so the frames simply go to the queue.
        if let Ok((n, total)) = attempt {
            if n == total {
                return;
            }
            written = n;
        }
        w.direct = false;
    }
    for text in texts {
        let len = frame_len(text);
        if written >= len {
            written -= len;
            continue;
        }
        let msg = Outbound::Text { text: text.clone(), sent: written };
        written = 0;
        if !queue(writers, id, msg, slow) {
            return;
        }
    }
}

/// Pushes onto connection `id`'s queue, or drops the connection if the queue is full (it has
/// stopped reading). Returns whether the connection is still there.
fn queue(
    writers: &mut HashMap<ConnId, Writer>,
    id: ConnId,
    msg: Outbound,
    slow: &mpsc::UnboundedSender<ConnId>,
) -> bool {
    let Some(w) = writers.get_mut(&id) else { return false };
    match w.outbox.try_send(msg) {
        Ok(()) => {
            w.queued += 1;
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            // Dropping the queue's sender ends the connection task, which closes the socket
            // with 1008; the room task forgets the member.
            writers.remove(&id);
            let _ = slow.send(id);
            false
        }
        // The connection task has ended; the room's `Remove` is on its way.
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Bytes of the whole frame carrying `text`.
pub(crate) fn frame_len(text: &Utf8Bytes) -> usize {
    frame_header(text.len()).1 + text.len()
}

/// Writes as much of `frames` (up to [`WRITE_BATCH`] of them) as the socket takes now, with
/// one `writev` of each frame's header and payload, leaving out the first `sent` bytes of
/// each frame. Returns the bytes written and the bytes there were to write; a full socket
/// buffer is not an error, it writes fewer bytes.
pub(crate) fn try_write_frames<'a>(
    socket: &TcpStream,
    frames: impl Iterator<Item = (&'a Utf8Bytes, usize)>,
) -> io::Result<(usize, usize)> {
    // On the stack: a broadcast to thousands runs this once per member.
    let mut headers = [([0u8; 10], 0usize); WRITE_BATCH];
    let mut payloads: [(&[u8], usize); WRITE_BATCH] = [(&[], 0); WRITE_BATCH];
    let mut count = 0;
    for (text, sent) in frames.take(WRITE_BATCH) {
        headers[count] = frame_header(text.len());
        payloads[count] = (text.as_bytes(), sent);
        count += 1;
    }
    let mut slices = [IoSlice::new(&[]); 2 * WRITE_BATCH];
    let (mut used, mut total) = (0, 0);
    for ((header, header_len), (payload, sent)) in headers[..count].iter().zip(&payloads[..count]) {
        let header = &header[..*header_len];
        let (header, payload) = match sent.checked_sub(header.len()) {
            Some(skip) => (&[][..], payload.get(skip..).unwrap_or(&[])),
            None => (&header[*sent..], *payload),
        };
        for part in [header, payload] {
            if !part.is_empty() {
                slices[used] = IoSlice::new(part);
                used += 1;
                total += part.len();
            }
        }
    }
    if total == 0 {
        return Ok((0, 0));
    }
    match socket.try_write_vectored(&slices[..used]) {
        Ok(n) => Ok((n, total)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, total)),
        Err(e) => Err(e),
    }
}

/// The header of an unmasked, final text frame with a payload of `len` bytes (RFC 6455
/// §5.2), and how many of the ten bytes it uses.
pub(crate) fn frame_header(len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x81;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

/// The socket under a connection's tungstenite: reads from the shared TCP stream, and writes
/// to it only while the connection task holds the write right (see the module docs).
pub(crate) struct ConnSocket {
    pub(crate) tcp: Arc<TcpStream>,
    /// Whether the connection task holds the write right.
    pub(crate) may_write: bool,
    /// Set when tungstenite tried to write without the right; the connection task then asks
    /// its shard for it.
    pub(crate) wants_write: bool,
}

impl AsyncRead for ConnSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.tcp.poll_read_ready(cx))?;
            // tokio-tungstenite hands over initialised memory, so this fills nothing.
            match self.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A stale readiness; `try_read` cleared it, so the next poll waits.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for ConnSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.may_write {
            // Pending without a waker: the task is woken by the queue message that grants
            // the right, which it asks for when it sees `wants_write`. tungstenite keeps the
            // frame and retries it on the next read or flush.
            this.wants_write = true;
            return Poll::Pending;
        }
        loop {
            ready!(this.tcp.poll_write_ready(cx))?;
            match this.tcp.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // TCP has no user-space buffer here (Nagle is off).
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // tokio-tungstenite never shuts the socket down; it closes when the connection task
        // and its shard have both let go of it.
        Poll::Ready(Ok(()))
    }
}

/// Writes a connection's queued messages in full, waiting for the socket as it drains. Each
/// message is `(text, bytes of its frame already sent)`; the counts advance as bytes go out.
pub(crate) async fn write_texts(socket: &TcpStream, batch: &mut [(Utf8Bytes, usize)]) -> io::Result<()> {
    for chunk in batch.chunks_mut(WRITE_BATCH) {
        loop {
            let (written, total) = try_write_frames(socket, chunk.iter().map(|(t, s)| (t, *s)))?;
            if written == total {
                break;
            }
            let mut left = written;
            for (text, sent) in chunk.iter_mut() {
                let step = left.min(frame_len(text) - *sent);
                *sent += step;
                left -= step;
            }
            socket.writable().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_lengths() {
        assert_eq!(frame_header(0).1, 2);
        assert_eq!(frame_header(125).1, 2);
        assert_eq!(frame_header(126).1, 4);
        assert_eq!(frame_header(65535).1, 4);
        assert_eq!(frame_header(65536).1, 10);
        assert_eq!(&frame_header(300).0[..4], &[0x81, 126, 1, 44]);
    }
}
