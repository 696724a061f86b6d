//! The server's TLS identity: a self-signed certificate made on first run and kept in the
//! data directory, so its fingerprint (which join links carry and native clients pin) stays
//! the same across restarts.
//!
//! Browsers give a page the microphone only in a secure context, so browser guests need
//! HTTPS; no certificate authority can vouch for a LAN address, so the join link does.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_wire::Fingerprint;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate's file in the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// The private key's file in the data directory (readable by its owner only).
pub const KEY_FILE: &str = "tls-key.pem";

/// Why the TLS identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file exists but does not hold what it should.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// One of the two files is missing. Making a new pair would silently change the
    /// fingerprint every join link carries, so the host has to decide.
    #[error(
        "{present} exists but {missing} does not; restore it, or delete {present} to make a new certificate (old join links will then be refused)"
    )]
    HalfPresent {
        /// The file that is there.
        present: PathBuf,
        /// The file that is not.
        missing: PathBuf,
    },
    /// rcgen or rustls refused.
    #[error("{0}")]
    Crypto(String),
}

/// The certificate, its key and its fingerprint.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for Identity {
    // Never the key: logs must not carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the identity kept in `dir`, or makes one (for `names`, the DNS names and IP
    /// addresses the certificate lists) and keeps it there when there is none.
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Identity, TlsError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Identity::load(&cert_path, &key_path),
            (false, false) => Identity::create(dir, &cert_path, &key_path, names),
            (true, false) => Err(TlsError::HalfPresent {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(TlsError::HalfPresent {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let unreadable =
            |path: &Path, what: &str, e: &dyn std::fmt::Display| TlsError::Unreadable {
                path: path.to_owned(),
                reason: format!("no PEM {what} in it ({e})"),
            };
        let cert = CertificateDer::from_pem_slice(&read(cert_path)?)
            .map_err(|e| unreadable(cert_path, "certificate", &e))?;
        let key_pem = read(key_path)?;
        let pair = rcgen::KeyPair::from_pem(&String::from_utf8_lossy(&key_pem))
            .map_err(|e| unreadable(key_path, "private key", &e))?;
        let key = PrivateKeyDer::try_from(pair.serialize_der())
            .map_err(|e| unreadable(key_path, "private key", &e))?;
        // A key that does not belong to the certificate would fail every handshake later,
        // with a far less helpful message (rustls cannot compare ring's ECDSA keys itself).
        let parsed = rustls::server::ParsedCertificate::try_from(&cert)
            .map_err(|e| unreadable(cert_path, "certificate", &e))?;
        if parsed.subject_public_key_info().as_ref()
            != rcgen::PublicKeyData::subject_public_key_info(&pair).as_slice()
        {
            return Err(TlsError::Unreadable {
                path: key_path.to_owned(),
                reason: format!("the key does not fit {}", cert_path.display()),
            });
        }
        let identity = Identity::new(cert, key);
        identity.server_config()?;
        Ok(identity)
    }

    fn create(
        dir: &Path,
        cert_path: &Path,
        key_path: &Path,
        names: &[String],
    ) -> Result<Identity, TlsError> {
        let made = generate(names)?;
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_owned(),
            source,
        })?;
        // The key first: a certificate without its key is the state we refuse to guess about.
        write_private(key_path, made.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(cert_path, made.cert.pem()).map_err(|source| TlsError::Io {
            path: cert_path.to_owned(),
            source,
        })?;
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
            .map_err(|e| TlsError::Crypto(format!("the new key: {e}")))?;
        Ok(Identity::new(made.cert.der().clone(), key))
    }

    /// A new identity kept nowhere, for a server without a data directory: its fingerprint
    /// changes with every start, so links to it cannot be pinned for long.
    pub fn ephemeral(names: &[String]) -> Result<Identity, TlsError> {
        let made = generate(names)?;
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
            .map_err(|e| TlsError::Crypto(format!("the new key: {e}")))?;
        Ok(Identity::new(made.cert.der().clone(), key))
    }

    fn new(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Identity {
        let fingerprint = Fingerprint::of_certificate(cert.as_ref());
        Identity {
            cert,
            key,
            fingerprint,
        }
    }

    /// The SHA-256 fingerprint of the certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The certificate, DER-encoded.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// A rustls server configuration presenting this identity, with ring as the crypto
    /// provider and HTTP/1.1 (WebSocket upgrades ride on it) as the only ALPN protocol.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Crypto(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
            .map_err(|e| TlsError::Crypto(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A self-signed certificate for `names` (`localhost` when there are none).
fn generate(names: &[String]) -> Result<rcgen::CertifiedKey<rcgen::KeyPair>, TlsError> {
    let mut names = names.to_vec();
    if names.is_empty() {
        names.push("localhost".to_owned());
    }
    rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::Crypto(format!("making the certificate: {e}")))
}

/// Writes a file only its owner can read (on Unix; elsewhere the data directory's own
/// permissions protect it).
fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "192.168.1.20".to_owned()];
        let first = Identity::load_or_create(dir.path(), &names).unwrap();
        let again = Identity::load_or_create(dir.path(), &names).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(
            first.fingerprint(),
            Fingerprint::of_certificate(again.certificate().as_ref())
        );
        again.server_config().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
        }
        assert!(
            !format!("{again:?}").contains("PRIVATE"),
            "Debug shows no key"
        );
        let other = tempfile::tempdir().unwrap();
        let stranger = Identity::load_or_create(other.path(), &names).unwrap();
        assert_ne!(first.fingerprint(), stranger.fingerprint());
    }

    #[test]
    fn damaged_or_half_identities_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path(), &[]).unwrap();
        let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();

        std::fs::write(dir.path().join(CERT_FILE), "not a certificate").unwrap();
        let error = Identity::load_or_create(dir.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(CERT_FILE) && error.contains("certificate"),
            "{error}"
        );
        assert_eq!(
            std::fs::read(dir.path().join(KEY_FILE)).unwrap(),
            key,
            "key kept"
        );

        std::fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let error = Identity::load_or_create(dir.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("exists but") && error.contains("does not"),
            "{error}"
        );
        assert!(
            !dir.path().join(CERT_FILE).exists(),
            "nothing made in its place"
        );

        // Another identity's certificate with this key.
        let other = tempfile::tempdir().unwrap();
        Identity::load_or_create(other.path(), &[]).unwrap();
        std::fs::copy(other.path().join(CERT_FILE), dir.path().join(CERT_FILE)).unwrap();
        let error = Identity::load_or_create(dir.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not fit"), "{error}");
    }
}
