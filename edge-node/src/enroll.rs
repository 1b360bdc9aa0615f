//! Enrollment: trade a one-time code for a device certificate and the hub's CA.

use crate::store::{Enrollment, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use sync_protocol::enroll::{CodeError, EnrollmentCode, proofs_equal};
use sync_protocol::quic::{self, DriverError, HUB_SERVER_NAME};
use sync_protocol::{Message, RejectCode};
use thiserror::Error;
use uuid::Uuid;

/// How long enrollment may take end to end.
pub const ENROLL_TIMEOUT_MS: u64 = 15_000;

#[derive(Debug, Error)]
pub enum EnrollError {
    #[error("invalid enrollment code: {0}")]
    BadCode(#[from] CodeError),
    #[error("this edge is already enrolled with outlet {outlet} of tenant {tenant}")]
    AlreadyEnrolled { tenant: String, outlet: String },
    #[error("cannot resolve hub address {0}")]
    Resolve(String),
    #[error("could not reach the hub at {addr}: {source}")]
    Unreachable { addr: String, source: DriverError },
    #[error("the hub refused the enrollment: {message} ({code})")]
    Refused { code: RejectCode, message: String },
    #[error("the hub's answer did not prove it knows the code; nothing was saved")]
    HubProofInvalid,
    #[error("unexpected answer from the hub")]
    Unexpected,
    #[error("timed out talking to the hub")]
    Timeout,
    #[error("could not create a device key: {0}")]
    Key(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Enrolls this edge with the hub at `hub_addr` (its QUIC sync address).
pub async fn enroll(
    store: Arc<Store>,
    hub_addr: &str,
    code_text: &str,
) -> Result<Enrollment, EnrollError> {
    let code = EnrollmentCode::parse(code_text)?;
    if let Some(existing) = crate::services::blocking({
        let store = store.clone();
        move || store.enrollment()
    })
    .await?
    {
        return Err(EnrollError::AlreadyEnrolled {
            tenant: existing.tenant_slug,
            outlet: existing.outlet_code,
        });
    }
    let enrollment = tokio::time::timeout(
        Duration::from_millis(ENROLL_TIMEOUT_MS),
        exchange(store.node_id(), hub_addr, &code),
    )
    .await
    .map_err(|_| EnrollError::Timeout)??;
    let saved = enrollment.clone();
    crate::services::blocking(move || store.save_enrollment(&saved, crate::now_ms())).await?;
    Ok(enrollment)
}

async fn exchange(
    node_id: Uuid,
    hub_addr: &str,
    code: &EnrollmentCode,
) -> Result<Enrollment, EnrollError> {
    quic::install_crypto_provider();
    let unreachable = |source: DriverError| EnrollError::Unreachable {
        addr: hub_addr.to_owned(),
        source,
    };
    let remote = tokio::net::lookup_host(hub_addr)
        .await
        .map_err(|_| EnrollError::Resolve(hub_addr.to_owned()))?
        .next()
        .ok_or_else(|| EnrollError::Resolve(hub_addr.to_owned()))?;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| EnrollError::Key(e.to_string()))?;
    let mut endpoint = crate::sync::client_endpoint(remote)
        .map_err(|e| unreachable(DriverError::Tls(e.to_string())))?;
    endpoint.set_default_client_config(quic::enroll_client_config().map_err(unreachable)?);
    let connection = endpoint
        .connect(remote, HUB_SERVER_NAME)
        .map_err(|e| unreachable(e.into()))?
        .await
        .map_err(|e| unreachable(e.into()))?;
    let exporter = quic::enrollment_exporter(&connection).map_err(unreachable)?;
    let public_key = key.public_key_raw().to_vec();
    let node_bytes = *node_id.as_bytes();
    let (mut writer, mut reader) = quic::open_framed(&connection).await.map_err(unreachable)?;
    writer
        .send(&Message::EnrollRequest {
            code_id: code.code_id().to_owned(),
            proof: code.client_proof(&exporter, &node_bytes, &public_key),
            node_id: node_bytes,
            public_key,
            software: concat!("edge-node/", env!("CARGO_PKG_VERSION")).to_owned(),
        })
        .await
        .map_err(unreachable)?;
    let answer = reader.recv().await.map_err(unreachable)?;
    connection.close(0_u32.into(), b"done");
    endpoint.wait_idle().await;
    match answer {
        Some(Message::Enrolled {
            device_cert_der,
            ca_cert_der,
            tenant_id,
            tenant_slug,
            outlet_id,
            outlet_code,
            outlet_name,
            currency,
            timezone,
            proof,
        }) => {
            let expected = code.hub_proof(&exporter, &ca_cert_der, &device_cert_der);
            if !proofs_equal(&proof, &expected) {
                return Err(EnrollError::HubProofInvalid);
            }
            Ok(Enrollment {
                hub_addr: hub_addr.to_owned(),
                tenant_id: Uuid::from_bytes(tenant_id),
                tenant_slug,
                outlet_id: Uuid::from_bytes(outlet_id),
                outlet_code,
                outlet_name,
                currency,
                timezone,
                device_cert_der,
                device_key_pkcs8_der: key.serialize_der(),
                ca_cert_der,
            })
        }
        Some(Message::Reject { code, message }) => Err(EnrollError::Refused { code, message }),
        _ => Err(EnrollError::Unexpected),
    }
}
