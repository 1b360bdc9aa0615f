//! Redeeming an enrollment code: check the edge's proof, issue its certificate, register it.

use crate::pki::{HubCa, PkiError, fingerprint};
use crate::store::StoreError;
use crate::store::devices::{NewDevice, RedeemOutcome, codes_by_code_id, redeem_code};
use crate::store::tenants::{outlet_by_id, tenant_by_id};
use sqlx::PgPool;
use sync_protocol::enroll::{EnrollmentCode, proofs_equal};
use sync_protocol::op::GENESIS_HASH;
use sync_protocol::{Message, RejectCode};
use time::OffsetDateTime;
use uuid::Uuid;

/// What the edge sent on the enrollment stream.
pub struct EnrollRequest {
    pub code_id: String,
    pub proof: [u8; 32],
    pub node_id: [u8; 16],
    pub public_key: Vec<u8>,
    pub software: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollFailure {
    #[error("{message}")]
    Refused { code: RejectCode, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

fn refused(code: RejectCode, message: &str) -> EnrollFailure {
    EnrollFailure::Refused {
        code,
        message: message.to_owned(),
    }
}

/// Checks the request against the stored codes and, if it holds, returns the `Enrolled`
/// answer (already bound to this session by its proof).
pub async fn redeem(
    pool: &PgPool,
    ca: &HubCa,
    exporter: &[u8; 32],
    request: EnrollRequest,
) -> Result<Message, EnrollFailure> {
    if request.code_id.len() != sync_protocol::enroll::CODE_ID_CHARS || request.software.len() > 128
    {
        return Err(refused(
            RejectCode::Malformed,
            "malformed enrollment request",
        ));
    }
    let candidates = codes_by_code_id(pool, &request.code_id).await?;
    let matched = candidates.into_iter().find_map(|row| {
        let code = EnrollmentCode::parse(&row.secret).ok()?;
        let expected = code.client_proof(exporter, &request.node_id, &request.public_key);
        proofs_equal(&expected, &request.proof).then_some((row, code))
    });
    let Some((row, code)) = matched else {
        return Err(refused(
            RejectCode::EnrollmentCodeUnknown,
            "unknown enrollment code: check it, or ask for a new one with `cloud-hub enrollment-code`",
        ));
    };
    if row.used_at.is_some() {
        return Err(refused(
            RejectCode::EnrollmentCodeUsed,
            "this enrollment code was already used; ask for a new one",
        ));
    }
    if row.expires_at <= OffsetDateTime::now_utc() {
        return Err(refused(
            RejectCode::EnrollmentCodeExpired,
            "this enrollment code has expired; ask for a new one",
        ));
    }
    let tenant = tenant_by_id(pool, row.tenant_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("code for a missing tenant".into()))?;
    let outlet = outlet_by_id(pool, row.tenant_id, row.outlet_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("code for a missing outlet".into()))?;
    let device_id = Uuid::from_bytes(request.node_id);
    let cert_der =
        match ca.issue_device_cert(device_id, &tenant.slug, &outlet.code, &request.public_key) {
            Ok(cert) => cert,
            Err(PkiError::BadPublicKey) => {
                return Err(refused(
                    RejectCode::Malformed,
                    "public key is not a P-256 point",
                ));
            }
            Err(other) => return Err(other.into()),
        };
    let outcome = redeem_code(
        pool,
        row.id,
        NewDevice {
            tenant: tenant.id,
            id: device_id,
            outlet_id: outlet.id,
            cert_fingerprint: &fingerprint(&cert_der),
            software: &request.software,
            genesis_hash: &GENESIS_HASH,
        },
    )
    .await?;
    match outcome {
        RedeemOutcome::Redeemed => {}
        RedeemOutcome::AlreadyUsed => {
            return Err(refused(
                RejectCode::EnrollmentCodeUsed,
                "this enrollment code was already used; ask for a new one",
            ));
        }
        RedeemOutcome::DeviceExists => {
            return Err(refused(
                RejectCode::Malformed,
                "this edge is already enrolled",
            ));
        }
    }
    tracing::info!(tenant = %tenant.slug, outlet = %outlet.code, device = %device_id, "edge enrolled");
    Ok(Message::Enrolled {
        proof: code.hub_proof(exporter, ca.cert_der(), &cert_der),
        device_cert_der: cert_der,
        ca_cert_der: ca.cert_der().to_vec(),
        tenant_id: *tenant.id.0.as_bytes(),
        tenant_slug: tenant.slug,
        outlet_id: *outlet.id.as_bytes(),
        outlet_code: outlet.code,
        outlet_name: outlet.name,
        currency: outlet.currency,
        timezone: outlet.timezone,
    })
}
