//! Certificate pinning: a `wss://` connection to a hosted room trusts exactly the certificate
//! whose SHA-256 fingerprint the join link carried, and nothing else.
//!
//! A room on a LAN serves a self-signed certificate that no authority vouches for, so the
//! usual chain check would refuse it; the fingerprint from the link (which the user got from
//! the host's screen or a friend) stands in for the authority. The handshake's signatures are
//! still checked, so the server must hold the certificate's key, not merely present a copy of
//! the certificate.
//!
//! An address given without a fingerprint (typed by hand) is trusted on first use: the first
//! certificate met is recorded and pinned for every reconnection, and the app remembers it
//! with the address, as SSH does with host keys.

use std::sync::{Arc, Mutex};

use hearth_wire::Fingerprint;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// The fingerprint of the certificate a connection met, written by the TLS handshake.
pub type SeenCertificate = Arc<Mutex<Option<Fingerprint>>>;

/// A rustls client configuration that accepts only the certificate with this fingerprint.
pub fn pinned_config(pin: Fingerprint) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    checked_config(Some(pin), SeenCertificate::default())
}

/// A rustls client configuration that accepts the certificate with fingerprint `pin`, or,
/// without one, whatever certificate the server presents: trust on first use, for a bare LAN
/// address that came with no fingerprint. Either way the certificate met goes into `seen`,
/// so the caller can pin it from then on and show it to the user.
pub fn checked_config(pin: Option<Fingerprint>, seen: SeenCertificate) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCertificate {
        pin,
        seen,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The server presented another certificate than the pinned one (from a link, or trusted on
/// first use): not the same room, or someone in between. Retrying cannot help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server's certificate has fingerprint {presented}, not {expected} as its link or the first connection said; this is not the room you joined before, or someone is in between"
)]
pub struct CertificateMismatch {
    /// The fingerprint of the certificate the server presented.
    pub presented: Fingerprint,
    /// The pinned fingerprint.
    pub expected: Fingerprint,
}

impl CertificateMismatch {
    /// The mismatch behind a failed connection, found through the layers the TLS error is
    /// wrapped in (WebSocket, I/O, rustls).
    pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<CertificateMismatch> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) =
                error.downcast_ref::<rustls::Error>()
            {
                return other.0.downcast_ref::<CertificateMismatch>().copied();
            }
            // An I/O error's `source` skips the error it wraps, so look at that one itself.
            next = match error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => error.source(),
            };
        }
        None
    }
}

#[derive(Debug)]
struct PinnedCertificate {
    /// `None`: trust on first use.
    pin: Option<Fingerprint>,
    seen: SeenCertificate,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Names and dates do not matter: the link names this very certificate.
        let presented = Fingerprint::of_certificate(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(presented);
        match self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if pin == presented => Ok(ServerCertVerified::assertion()),
            Some(expected) => {
                let mismatch = CertificateMismatch { presented, expected };
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch)))))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
