//! The thin quinn + rustls driver: endpoint configuration and framed streams.
//!
//! Everything here only moves bytes and configures TLS; decisions live in [`crate::session`]
//! and [`crate::enroll`].

use crate::frame::{FrameDecoder, FrameError, encode_frame};
use crate::message::{ALPN_ENROLL, ALPN_SYNC, Message};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::RootCertStore;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The name every hub certificate carries and every edge checks, whatever address it dials.
/// Why fixed: edges reach the hub by IP, DNS or a load balancer; trust comes from the private
/// CA received at enrollment, not from the public name system.
pub const HUB_SERVER_NAME: &str = "kibanda-hub";
/// A connection with no traffic for this long is dead. Why 20 s: four missed keep-alives.
pub const IDLE_TIMEOUT_MS: u32 = 20_000;
/// Keep-alive interval, well under NAT UDP mapping timeouts (typically 30 s or more).
pub const KEEP_ALIVE_MS: u64 = 5_000;
/// Bytes read from a stream per call.
const READ_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum DriverError {
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stream write failed: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream read failed: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("connection failed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("could not connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("stream closed: {0}")]
    Closed(#[from] quinn::ClosedStream),
}

/// Installs ring as the process's rustls provider (idempotent). Why ring: aws-lc costs a much
/// longer cold build and a C toolchain dependency for no benefit here.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(quinn::VarInt::from_u32(IDLE_TIMEOUT_MS).into()));
    transport.keep_alive_interval(Some(Duration::from_millis(KEEP_ALIVE_MS)));
    Arc::new(transport)
}

fn roots(ca_cert_der: &[u8]) -> Result<RootCertStore, DriverError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert_der.to_vec()))
        .map_err(|error| DriverError::Tls(error.to_string()))?;
    Ok(roots)
}

/// The hub's endpoint config: serves sync (client certificate required, checked by the
/// handler) and enrollment (no client certificate) on one UDP port.
pub fn server_config(
    server_chain_der: Vec<Vec<u8>>,
    server_key_pkcs8_der: Vec<u8>,
    ca_cert_der: &[u8],
) -> Result<quinn::ServerConfig, DriverError> {
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_cert_der)?), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|error| DriverError::Tls(error.to_string()))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| DriverError::Tls(error.to_string()))?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(
            server_chain_der
                .into_iter()
                .map(CertificateDer::from)
                .collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key_pkcs8_der)),
        )
        .map_err(|error| DriverError::Tls(error.to_string()))?;
    tls.alpn_protocols = vec![ALPN_SYNC.to_vec(), ALPN_ENROLL.to_vec()];
    // No 0-RTT: a replayable first flight must never carry a write.
    tls.max_early_data_size = 0;
    let crypto =
        QuicServerConfig::try_from(tls).map_err(|error| DriverError::Tls(error.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

/// The edge's sync config: trusts only the hub CA and presents the device certificate.
pub fn sync_client_config(
    ca_cert_der: &[u8],
    device_cert_der: Vec<u8>,
    device_key_pkcs8_der: Vec<u8>,
) -> Result<quinn::ClientConfig, DriverError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| DriverError::Tls(error.to_string()))?
        .with_root_certificates(roots(ca_cert_der)?)
        .with_client_auth_cert(
            vec![CertificateDer::from(device_cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(device_key_pkcs8_der)),
        )
        .map_err(|error| DriverError::Tls(error.to_string()))?;
    tls.alpn_protocols = vec![ALPN_SYNC.to_vec()];
    tls.enable_early_data = false;
    let crypto =
        QuicClientConfig::try_from(tls).map_err(|error| DriverError::Tls(error.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

/// The edge's enrollment config. It accepts any server certificate *chain* (it has no CA yet)
/// but still verifies the handshake signatures; trust in the hub comes from the code-bound
/// proof in [`crate::enroll`], checked before anything the hub sent is kept.
pub fn enroll_client_config() -> Result<quinn::ClientConfig, DriverError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| DriverError::Tls(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ProofBoundVerifier(provider())))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN_ENROLL.to_vec()];
    tls.enable_early_data = false;
    let crypto =
        QuicClientConfig::try_from(tls).map_err(|error| DriverError::Tls(error.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

#[derive(Debug)]
struct ProofBoundVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for ProofBoundVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The DER of the peer's leaf certificate, if it presented one.
pub fn peer_certificate_der(connection: &quinn::Connection) -> Option<Vec<u8>> {
    let identity = connection.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    chain.first().map(|cert| cert.as_ref().to_vec())
}

/// Keying material exported from the connection's TLS session, for enrollment proofs.
pub fn enrollment_exporter(connection: &quinn::Connection) -> Result<[u8; 32], DriverError> {
    let mut output = [0_u8; 32];
    connection
        .export_keying_material(&mut output, crate::enroll::EXPORTER_LABEL, b"")
        .map_err(|_| DriverError::Tls("keying material export failed".into()))?;
    Ok(output)
}

/// The sending half of a framed stream.
pub struct FrameWriter {
    send: quinn::SendStream,
}

impl FrameWriter {
    pub fn new(send: quinn::SendStream) -> FrameWriter {
        FrameWriter { send }
    }

    pub async fn send(&mut self, message: &Message) -> Result<(), DriverError> {
        let bytes = encode_frame(message)?;
        self.send.write_all(&bytes).await?;
        Ok(())
    }

    /// Finishes the send side (the peer sees a clean end of stream).
    pub fn finish(&mut self) -> Result<(), DriverError> {
        self.send.finish()?;
        Ok(())
    }

    /// Waits until the peer has stopped or fully read the stream.
    pub async fn stopped(&mut self) {
        let _ = self.send.stopped().await;
    }
}

/// The receiving half of a framed stream.
pub struct FrameReader {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

impl FrameReader {
    pub fn new(recv: quinn::RecvStream) -> FrameReader {
        FrameReader {
            recv,
            decoder: FrameDecoder::new(),
        }
    }

    /// The next message; `Ok(None)` when the peer finished the stream cleanly. The frame
    /// limit is checked as soon as a header arrives, before its body is buffered.
    pub async fn recv(&mut self) -> Result<Option<Message>, DriverError> {
        loop {
            if let Some(message) = self.decoder.next_message()? {
                return Ok(Some(message));
            }
            match self.recv.read_chunk(READ_CHUNK_BYTES, true).await? {
                Some(chunk) => self.decoder.push(&chunk.bytes),
                None => {
                    self.decoder.finish()?;
                    return Ok(None);
                }
            }
        }
    }
}

/// Opens a bidirectional framed stream on `connection`.
pub async fn open_framed(
    connection: &quinn::Connection,
) -> Result<(FrameWriter, FrameReader), DriverError> {
    let (send, recv) = connection.open_bi().await?;
    Ok((FrameWriter::new(send), FrameReader::new(recv)))
}

/// Accepts the peer's bidirectional framed stream on `connection`.
pub async fn accept_framed(
    connection: &quinn::Connection,
) -> Result<(FrameWriter, FrameReader), DriverError> {
    let (send, recv) = connection.accept_bi().await?;
    Ok((FrameWriter::new(send), FrameReader::new(recv)))
}
