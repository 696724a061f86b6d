//! A typed WebSocket connection to a Hearth server, without state: what the server tests and
//! tools that script the protocol message by message use. The app and `hearth-cli` use
//! [`crate::Client`] instead, which keeps the room state and reconnects.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hearth_wire::{ClientMsg, DecodeError, PROTOCOL_VERSION, ServerMsg, decode_server, encode_client};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// A failure of the connection or of the protocol.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket failed or refused the handshake.
    #[error("websocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    /// The server sent something that is not a valid message.
    #[error("bad message from server: {0}")]
    Decode(#[from] DecodeError),
    /// The server closed the connection, with its close frame if it sent one.
    #[error("connection closed ({0:?})")]
    Closed(Option<CloseFrame>),
    /// Nothing arrived in time.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server answered with something other than what the caller needed.
    #[error("unexpected message: {0}")]
    Unexpected(String),
    /// The client stopped for a reason retrying cannot fix (bad password, banned, kicked,
    /// a refused `auth`, or a first connection that failed).
    #[error("{message}")]
    Fatal {
        /// The server's code, when it gave one.
        code: Option<hearth_wire::ErrorCode>,
        /// What happened.
        message: String,
    },
    /// The server's certificate is not the pinned one (see [`crate::pin`]).
    #[error("{0}")]
    CertificateMismatch(crate::pin::CertificateMismatch),
    /// The client task has ended.
    #[error("the client has stopped")]
    Stopped,
}

/// One WebSocket connection to a Hearth server.
pub struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What `hello` said about the server.
pub type Hello = ServerMsg;

impl Connection {
    /// Connects to `url` (`ws://host:port/…`), optionally sending an `Origin` header as a
    /// browser would, and reads the server's `hello`.
    pub async fn connect(url: &str, origin: Option<&str>) -> Result<(Connection, Hello), ClientError> {
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            let value = origin
                .parse()
                .map_err(|_| ClientError::Unexpected(format!("bad origin {origin:?}")))?;
            request.headers_mut().insert("origin", value);
        }
        // Small buffers: the load generator opens thousands of these.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let mut conn = Connection { ws };
        let hello = conn.recv_timeout(Duration::from_secs(10)).await?;
        match hello {
            ServerMsg::Hello { .. } => Ok((conn, hello)),
            other => Err(ClientError::Unexpected(format!("expected hello, got {other:?}"))),
        }
    }

    /// Connects and authenticates; returns the connection and the `welcome` message. The
    /// messages that follow `welcome` (history, member_joined) are left for the caller.
    pub async fn join(
        url: &str,
        room: &str,
        name: &str,
        password: Option<&str>,
        token: Option<&str>,
    ) -> Result<(Connection, ServerMsg), ClientError> {
        let (mut conn, _) = Connection::connect(url, None).await?;
        conn.send(&ClientMsg::Auth {
            protocol: PROTOCOL_VERSION,
            room: room.into(),
            name: name.into(),
            password: password.map(Into::into),
            token: token.map(Into::into),
        })
        .await?;
        match conn.recv_timeout(Duration::from_secs(10)).await? {
            welcome @ ServerMsg::Welcome { .. } => Ok((conn, welcome)),
            other => Err(ClientError::Unexpected(format!("expected welcome, got {other:?}"))),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        self.send_text(encode_client(msg)).await
    }

    /// Sends a raw text frame, for tests of bad input.
    pub async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends a raw frame of any kind, for tests of bad input.
    pub async fn send_raw(&mut self, msg: Message) -> Result<(), ClientError> {
        self.ws.send(msg).await?;
        Ok(())
    }

    /// Receives the next message from the server.
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(decode_server(&text)?),
                Some(Ok(Message::Close(frame))) => return Err(ClientError::Closed(frame)),
                Some(Ok(_)) => continue,
                Some(Err(tungstenite::Error::ConnectionClosed)) | None => {
                    return Err(ClientError::Closed(None));
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Receives the next message, or fails after `limit`.
    pub async fn recv_timeout(&mut self, limit: Duration) -> Result<ServerMsg, ClientError> {
        tokio::time::timeout(limit, self.recv()).await.map_err(|_| ClientError::Timeout)?
    }

    /// Skips messages until one satisfies `pick`, failing after `limit` in all.
    pub async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut pick: impl FnMut(&ServerMsg) -> Option<T>,
    ) -> Result<T, ClientError> {
        tokio::time::timeout(limit, async {
            loop {
                let msg = self.recv().await?;
                if let Some(found) = pick(&msg) {
                    return Ok(found);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Closes the connection politely.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(None).await?;
        Ok(())
    }
}
