//! A minimal WebSocket client connection for the load generator.
//!
//! The load generator shares the machine's two cores with the server it measures, so every
//! microsecond it spends per received frame is a microsecond taken from the server and shows
//! up as fan-out latency. A general-purpose client (tokio-tungstenite) costs about 10 µs per
//! received frame here: waker bookkeeping, zero-filling its read buffer before every read,
//! and a second `recv` per wake-up that only learns the socket is empty. This client does
//! only what the swarm needs: one HTTP upgrade, unmasked frames from the server (reassembling
//! fragments), masked text frames to it, and nothing else. It reads into a buffer that is
//! zeroed once, and treats a short read as "the socket is drained", which saves the second
//! `recv`: epoll is edge-triggered, so data that arrives later raises a new readiness event.
//!
//! Over TLS (`wss://`, how every member on another computer reaches a hosted room) reads and
//! writes go through tokio-rustls instead, so that the price of encryption and of the server's
//! TLS hop can be measured against plain WebSocket.

use std::io::{self, Read};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The transport under the WebSocket.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.write_all(bytes).await,
            Stream::Tls(stream) => {
                stream.write_all(bytes).await?;
                // tokio-rustls keeps records until flushed.
                stream.flush().await
            }
        }
    }

    async fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(into).await,
            Stream::Tls(stream) => stream.read(into).await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.shutdown().await,
            Stream::Tls(stream) => stream.shutdown().await,
        }
    }
}

/// Bytes read per `recv` when the buffer has room; the buffer grows only for frames that do
/// not fit.
const READ_CHUNK: usize = 4096;
/// A buffer that grew past this for one large message is given back once it is empty again.
const KEEP_CAPACITY: usize = 64 * 1024;
/// Largest message accepted, a guard against a broken length field.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// One complete message from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A text message; its payload was written into the caller's string.
    Text,
    /// The server closed the connection with this code and reason.
    Close(Option<u16>, String),
}

/// What [`parse_header`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Final fragment of its message.
    pub fin: bool,
    /// The opcode (1 text, 2 binary, 0 continuation, 8 close, 9 ping, 10 pong).
    pub opcode: u8,
    /// Header length in bytes, including a mask key if present.
    pub header_len: usize,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
}

/// Parses a WebSocket frame header (RFC 6455 §5.2) from the start of `buf`. `Ok(None)` means
/// more bytes are needed; an error names what is wrong with the frame.
pub fn parse_header(buf: &[u8]) -> Result<Option<Header>, String> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(format!("reserved bits set in frame header byte {b0:#04x}"));
    }
    let (fin, opcode, masked) = (b0 & 0x80 != 0, b0 & 0x0f, b1 & 0x80 != 0);
    let (payload_len, mut header_len) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let payload_len = usize::try_from(payload_len)
        .ok()
        .filter(|&n| n <= MAX_MESSAGE)
        .ok_or_else(|| format!("frame of {payload_len} bytes is over the {MAX_MESSAGE}-byte guard"))?;
    let mask = if masked {
        let Some(key) = buf.get(header_len..header_len + 4) else { return Ok(None) };
        header_len += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    Ok(Some(Header { fin, opcode, header_len, payload_len, mask }))
}

/// A client WebSocket over one TCP connection.
pub struct ClientSocket {
    stream: Stream,
    /// Received bytes live in `buf[start..end]`; the whole vector is initialised, so reads
    /// go straight into `buf[end..]` without zero-filling anything first.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A fragmented message being reassembled.
    partial: Vec<u8>,
    in_fragmented: bool,
    /// Frames are formatted here before being written, to write each in one call.
    out: Vec<u8>,
    /// State of the masking-key generator (xorshift; masks need not be secret on loopback).
    mask_state: u32,
}

impl ClientSocket {
    /// Connects to `addr` (`host:port`) and upgrades to a WebSocket on `path`, over TLS with
    /// `tls` (which says which certificates to accept).
    pub async fn connect(
        addr: &str,
        path: &str,
        seed: u32,
        tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    ) -> io::Result<ClientSocket> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut stream = match tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host).trim_matches(['[', ']']);
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let secure = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
                Stream::Tls(Box::new(secure))
            }
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut socket = ClientSocket {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            partial: Vec::new(),
            in_fragmented: false,
            out: Vec::with_capacity(256),
            mask_state: seed | 1,
        };
        // Read the response head; anything after it already belongs to the WebSocket.
        let head_end = loop {
            if let Some(at) = socket.buf[..socket.end].windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if socket.end == socket.buf.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "HTTP response head too long"));
            }
            let n = socket.stream.read(&mut socket.buf[socket.end..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            socket.end += n;
        };
        let head = String::from_utf8_lossy(&socket.buf[..head_end]).into_owned();
        if !head.starts_with("HTTP/1.1 101") {
            let status = head.lines().next().unwrap_or_default();
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("upgrade refused: {status}")));
        }
        socket.start = head_end;
        Ok(socket)
    }

    /// Moves the next complete text or close message into `text` (replacing its content).
    /// `Ok(None)` means the buffer holds no complete message: call [`Self::read_more`].
    /// Pings are answered on the next [`Self::send_text`] call; pongs and binary frames are
    /// skipped.
    pub fn next_message(&mut self, text: &mut String) -> io::Result<Option<Incoming>> {
        loop {
            let Some(h) = parse_header(&self.buf[self.start..self.end]).map_err(invalid)? else {
                return Ok(None);
            };
            let total = h.header_len + h.payload_len;
            if self.end - self.start < total {
                // Make room for the whole frame, so the next reads can complete it.
                self.reserve(total);
                return Ok(None);
            }
            let from = self.start + h.header_len;
            let payload = &self.buf[from..from + h.payload_len];
            self.start += total;
            if h.mask.is_some() {
                return Err(invalid("the server sent a masked frame".into()));
            }
            match h.opcode {
                1 | 0 => {
                    if h.opcode == 1 && h.fin && !self.in_fragmented {
                        let s = std::str::from_utf8(payload).map_err(|e| invalid(e.to_string()))?;
                        text.clear();
                        text.push_str(s);
                        return Ok(Some(Incoming::Text));
                    }
                    if h.opcode == 1 {
                        self.partial.clear();
                        self.in_fragmented = true;
                    } else if !self.in_fragmented {
                        return Err(invalid("continuation frame without a first fragment".into()));
                    }
                    self.partial.extend_from_slice(payload);
                    if h.fin {
                        self.in_fragmented = false;
                        let s = std::str::from_utf8(&self.partial).map_err(|e| invalid(e.to_string()))?;
                        text.clear();
                        text.push_str(s);
                        if self.partial.capacity() > KEEP_CAPACITY {
                            self.partial = Vec::new();
                        }
                        return Ok(Some(Incoming::Text));
                    }
                }
                8 => {
                    let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                    return Ok(Some(Incoming::Close(code, reason)));
                }
                // The server never pings at the WebSocket level (it pings in JSON); skip
                // control and binary frames the swarm has no use for.
                _ => {}
            }
        }
    }

    /// Waits until the socket is readable and reads what it has. Returns the bytes read; 0
    /// means the server closed the connection. Cancel-safe: bytes are only moved into the
    /// buffer synchronously after the wait.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEEP_CAPACITY {
                self.buf = vec![0; READ_CHUNK];
            }
        }
        if self.buf.len() - self.end < READ_CHUNK / 4 {
            self.reserve(self.end - self.start + READ_CHUNK);
        }
        let sock = match &mut self.stream {
            Stream::Plain(sock) => &*sock,
            // rustls decrypts into its own buffer first, so the readiness trick below does not
            // apply; a plain read is cancel-safe too.
            Stream::Tls(tls) => {
                let n = tls.read(&mut self.buf[self.end..]).await?;
                self.end += n;
                return Ok(n);
            }
        };
        loop {
            sock.readable().await?;
            let spare = self.buf.len() - self.end;
            let mut got = None;
            let target = &mut self.buf[self.end..];
            let result = sock.try_io(Interest::READABLE, || {
                let n = (&*socket2::SockRef::from(sock)).read(target)?;
                got = Some(n);
                // A short read emptied the socket: report WouldBlock so tokio clears the
                // readiness now instead of after one more `recv`. Readiness that arrived
                // meanwhile has a newer tick and is kept.
                if n > 0 && n < spare { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(()) }
            });
            if let Some(n) = got {
                self.end += n;
                return Ok(n);
            }
            match result {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
                Ok(()) => unreachable!("try_io returned Ok without reading"),
            }
        }
    }

    /// Writes one masked text frame.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.frame(0x81, text.as_bytes());
        self.stream.write_all(&self.out).await
    }

    /// Sends a close frame (code 1000) and gives the server a moment to answer.
    pub async fn close(&mut self) -> io::Result<()> {
        self.frame(0x88, &1000u16.to_be_bytes());
        self.stream.write_all(&self.out).await?;
        self.stream.shutdown().await
    }

    fn frame(&mut self, first: u8, payload: &[u8]) {
        self.out.clear();
        self.out.push(first);
        let len = payload.len();
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&len.to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        // xorshift32: a different key per frame, as RFC 6455 asks, without a random source.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_state = x;
        let key = x.to_be_bytes();
        self.out.extend_from_slice(&key);
        self.out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }

    /// Ensures `buf` can hold `need` bytes from `start`, moving the unread bytes to the front.
    fn reserve(&mut self, need: usize) {
        if self.buf.len() - self.start >= need {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < need {
            self.buf.resize(need.next_power_of_two(), 0);
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
