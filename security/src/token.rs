//! Client authentication and authorization: bearer tokens, of which nodes keep only SHA-256
//! digests, and ACL rules.
//!
//! `admin` is the principal of `security.admin_token_sha256` and may do everything; other
//! principals are users of the metadata group's [`SecurityTable`], allowed what its rules say
//! (see `raftbus_protocol::acl`). Each node says what a route needs (a [`Policy`]); the
//! [`authorize`] middleware answers `401 unauthenticated` without a valid token and `403
//! forbidden` without a rule, each naming what is missing.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use raftbus_protocol::ErrorCode;
use raftbus_protocol::acl::{ADMIN, Operation, ResourceKind, SecurityTable};
use raftbus_protocol::http::ApiError;

use crate::{SecurityError, SecuritySettings};

/// Hex SHA-256 of a token, as `admin_token_sha256` and the user table hold it.
pub fn sha256_hex(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a node looks users and rules up (the managers' metadata, a broker's copy of it).
pub trait Directory: Send + Sync + 'static {
    /// Runs `f` on the current table.
    fn with_table(&self, f: &mut dyn FnMut(&SecurityTable));
}

/// A table nobody changes: only `admin` exists (brokers without managers, tests).
impl Directory for std::sync::RwLock<SecurityTable> {
    fn with_table(&self, f: &mut dyn FnMut(&SecurityTable)) {
        f(&self.read().expect("security table lock"));
    }
}

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: anyone may call it (`/health`).
    Open,
    /// Any authenticated principal.
    Authenticated,
    /// A principal allowed this operation on this resource.
    Allowed(ResourceKind, String, Operation),
}

/// A node's route table: what `method` on the path `segments` with `query` needs.
pub type Policy = fn(&Method, &[&str], &str) -> Need;

/// The digests of the tokens this node accepts and the rules it applies.
#[derive(Clone)]
pub struct Tokens {
    /// SHA-256 of the admin token.
    admin: [u8; 32],
    /// Users and rules.
    directory: Arc<dyn Directory>,
    /// The node's route table.
    policy: Policy,
}

impl Tokens {
    /// The accepted tokens; `None` in insecure mode (no authentication).
    pub fn from_settings(
        s: &SecuritySettings,
        directory: Arc<dyn Directory>,
        policy: Policy,
    ) -> Result<Option<Self>, SecurityError> {
        if s.insecure {
            return Ok(None);
        }
        let hex = s.admin_token_sha256.trim();
        let bad = || {
            SecurityError::Config(
                "security.admin_token_sha256 must be the 64 hex digits of the admin token's \
                 SHA-256 (scripts/certs.sh DIR token admin writes it)"
                    .into(),
            )
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut admin = [0u8; 32];
        for (i, byte) in admin.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Some(Self {
            admin,
            directory,
            policy,
        }))
    }

    /// The principal a request's `Authorization: Bearer` token names, or `401`.
    pub fn principal(&self, req: &ServiceRequest) -> Result<String, ApiError> {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "no credentials: send an access token as `Authorization: Bearer TOKEN` \
                 (CLIs: --token or RAFTBUS_TOKEN)",
            ));
        };
        self.principal_of_token(token)
    }

    /// The principal `token` belongs to, or `401` (also used by the Kafka listener's SASL).
    pub fn principal_of_token(&self, token: &str) -> Result<String, ApiError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes());
        // Compare every byte: the time taken says nothing about how much matched.
        let diff = digest
            .as_ref()
            .iter()
            .zip(self.admin.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            return Ok(ADMIN.to_string());
        }
        let digest = hex(digest.as_ref());
        let mut found = None;
        self.directory
            .with_table(&mut |t| found = t.principal_of(&digest).map(str::to_string));
        found.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the access token is not valid (wrong, revoked, or for another cluster)",
            )
        })
    }

    /// `Ok` when the request may go on, else `401` or `403`.
    pub fn check(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        let path = req.path().trim_matches('/');
        let segments: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        match (self.policy)(req.method(), &segments, req.query_string()) {
            Need::Open => Ok(()),
            Need::Authenticated => self.principal(req).map(|_| ()),
            Need::Allowed(kind, name, op) => {
                let who = self.principal(req)?;
                self.require(&who, kind, &name, op)
            }
        }
    }

    /// `Ok` when `who` may `op` on the `kind` resource `name`, else `403` naming what is
    /// missing.
    pub fn require(
        &self,
        who: &str,
        kind: ResourceKind,
        name: &str,
        op: Operation,
    ) -> Result<(), ApiError> {
        let mut allowed = who == ADMIN;
        if !allowed {
            self.directory
                .with_table(&mut |t| allowed = t.allows(who, kind, name, op));
        }
        if allowed {
            return Ok(());
        }
        let what = match kind {
            ResourceKind::Cluster => "the cluster".to_string(),
            ResourceKind::Topic => format!("topic {name:?}"),
            ResourceKind::Group => format!("group {name:?}"),
        };
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "principal {who:?} may not {} on {what}: no ACL allows it",
                op.as_str()
            ),
        ))
    }
}

/// Middleware of the client listeners (`actix_web::middleware::from_fn`): checks every
/// request against the app's `web::Data<Tokens>`; without one (insecure mode) lets all pass.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(tokens) = req.app_data::<web::Data<Tokens>>() {
        tokens.check(&req)?;
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_sha256sum() {
        // `printf abc | sha256sum`
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn settings_must_hold_a_digest() {
        let dir: Arc<dyn Directory> = Arc::new(std::sync::RwLock::new(SecurityTable::default()));
        let policy: Policy = |_, _, _| Need::Authenticated;
        let mut s = SecuritySettings {
            admin_token_sha256: "xyz".into(),
            ..Default::default()
        };
        assert!(Tokens::from_settings(&s, dir.clone(), policy).is_err());
        s.admin_token_sha256 = sha256_hex("t");
        assert!(
            Tokens::from_settings(&s, dir.clone(), policy)
                .unwrap()
                .is_some()
        );
        s.insecure = true;
        assert!(Tokens::from_settings(&s, dir, policy).unwrap().is_none());
    }
}
