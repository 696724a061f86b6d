//! Signaling plumbing shared by the voice session and the camera session (`hearth-video`):
//! conversions between the wire's signaling types and the peer crate's, and the hook that
//! rewrites outgoing signals. The conversions are written by hand (serialization marks a
//! boundary), here once, because both sessions relay signaling for their own peers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hearth_peer::Signal;
use hearth_wire::SignalData;

/// The future a [`SignalRewriter`] returns.
pub type RewriteFuture = Pin<Box<dyn Future<Output = Signal> + Send>>;

/// A function through which a session passes each outgoing signal, for example to replace
/// candidate addresses by those of a relay or a port mapping
/// (`hearth_peer::relay::UdpRelay::rewrite_signal` in tests), or to strip candidates a
/// privacy setting forbids. The session awaits it before sending the next signal, so the
/// order of signals is kept.
#[derive(Clone)]
pub struct SignalRewriter(Arc<dyn Fn(Signal) -> RewriteFuture + Send + Sync>);

impl SignalRewriter {
    /// Wraps an async function from a signal to the signal to send instead.
    pub fn new<F, Fut>(rewrite: F) -> SignalRewriter
    where
        F: Fn(Signal) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Signal> + Send + 'static,
    {
        SignalRewriter(Arc::new(move |signal| Box::pin(rewrite(signal))))
    }

    /// Runs the rewriter on one signal.
    pub async fn rewrite(&self, signal: Signal) -> Signal {
        (self.0)(signal).await
    }
}

impl fmt::Debug for SignalRewriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignalRewriter(..)")
    }
}

/// The wire's ICE server as the peer crate takes it.
pub fn ice_server(s: hearth_wire::IceServer) -> hearth_peer::IceServer {
    hearth_peer::IceServer {
        urls: s.urls,
        username: s.username.unwrap_or_default(),
        credential: s.credential.unwrap_or_default(),
    }
}

/// A signaling payload from the wire, as the peer crate takes it.
pub fn signal_in(data: SignalData) -> hearth_peer::Signal {
    match data {
        SignalData::Offer { sdp } => hearth_peer::Signal::Offer { sdp },
        SignalData::Answer { sdp } => hearth_peer::Signal::Answer { sdp },
        SignalData::Candidate { candidate, sdp_mid, sdp_mline_index } => {
            hearth_peer::Signal::Candidate { candidate, sdp_mid, sdp_mline_index }
        }
        SignalData::Bye {} => hearth_peer::Signal::Bye,
    }
}

/// A peer's signal, as the wire carries it.
pub fn signal_out(signal: hearth_peer::Signal) -> SignalData {
    match signal {
        hearth_peer::Signal::Offer { sdp } => SignalData::Offer { sdp },
        hearth_peer::Signal::Answer { sdp } => SignalData::Answer { sdp },
        hearth_peer::Signal::Candidate { candidate, sdp_mid, sdp_mline_index } => {
            SignalData::Candidate { candidate, sdp_mid, sdp_mline_index }
        }
        hearth_peer::Signal::Bye => SignalData::Bye {},
    }
}
