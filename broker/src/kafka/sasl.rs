//! The connection's session: ApiVersions, and SASL/PLAIN authentication when security is on.
//!
//! The PLAIN password is a Raftbus client token; the username must be the principal the
//! token belongs to (so a log line or ACL names who really spoke). After authentication every
//! request runs as that principal, with the same ACLs as the HTTP API.

use bytes::BytesMut;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::dispatch::{Request, encode, encode_at};
use super::errors::ConnError;
use super::{Kafka, Who, api_versions};

/// The only mechanism offered.
const PLAIN: &str = "PLAIN";

/// Authentication state of one connection.
pub(super) struct Session {
    /// Security is on: every request but ApiVersions and SASL needs a principal.
    required: bool,
    /// SaslHandshake chose PLAIN.
    handshake: bool,
    /// Principal and token once authenticated.
    auth: Option<(String, String)>,
}

impl Session {
    /// A new connection's session.
    pub fn new(required: bool) -> Self {
        Self {
            required,
            handshake: false,
            auth: None,
        }
    }

    /// Who runs a request of `key`, or the error closing the connection when it needs a
    /// principal and none authenticated.
    pub fn who(&self, key: ApiKey) -> Result<Who, ConnError> {
        if self.required && self.auth.is_none() {
            return Err(ConnError::Unauthenticated(key as i16));
        }
        Ok(Who {
            auth: self.auth.clone(),
        })
    }

    /// Answers the session's own requests (ApiVersions, SASL); `None` for all others.
    pub fn handle(&mut self, kafka: &Kafka, req: &Request) -> Result<Option<BytesMut>, ConnError> {
        match req.api_key {
            ApiKey::ApiVersions => {
                let resp = api_versions::answer(kafka, req.version);
                // Unsupported versions are answered in v0, which every client can read.
                let v = if resp.error_code == 0 { req.version } else { 0 };
                encode_at(req, &resp, v).map(Some)
            }
            ApiKey::SaslHandshake if self.required => {
                if !api_versions::supports(kafka, req.api_key, req.version) {
                    return Err(ConnError::BadFrame(
                        "unsupported SaslHandshake version".into(),
                    ));
                }
                let r: SaslHandshakeRequest = req.decode()?;
                let ok = r.mechanism.as_str().eq_ignore_ascii_case(PLAIN);
                self.handshake = ok;
                let resp = SaslHandshakeResponse::default()
                    .with_error_code(if ok {
                        0
                    } else {
                        ResponseError::UnsupportedSaslMechanism.code()
                    })
                    .with_mechanisms(vec![StrBytes::from_static_str(PLAIN)]);
                encode(req, &resp).map(Some)
            }
            ApiKey::SaslAuthenticate if self.required => {
                if !api_versions::supports(kafka, req.api_key, req.version) {
                    return Err(ConnError::BadFrame(
                        "unsupported SaslAuthenticate version".into(),
                    ));
                }
                let r: SaslAuthenticateRequest = req.decode()?;
                let outcome = if self.handshake {
                    self.authenticate(kafka, &r.auth_bytes)
                } else {
                    Err((
                        ResponseError::IllegalSaslState,
                        "SaslAuthenticate before SaslHandshake".to_string(),
                    ))
                };
                let resp = match outcome {
                    Ok(()) => SaslAuthenticateResponse::default(),
                    Err((code, message)) => {
                        tracing::info!(%message, "kafka SASL authentication failed");
                        SaslAuthenticateResponse::default()
                            .with_error_code(code.code())
                            .with_error_message(Some(StrBytes::from_string(message)))
                    }
                };
                encode(req, &resp).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Checks PLAIN's `authzid NUL authcid NUL password`.
    fn authenticate(&mut self, kafka: &Kafka, bytes: &[u8]) -> Result<(), (ResponseError, String)> {
        let fail = |m: &str| (ResponseError::SaslAuthenticationFailed, m.to_string());
        let mut parts = bytes.split(|b| *b == 0);
        let (Some(authz), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("malformed PLAIN message"));
        };
        let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_string);
        let (Ok(authz), Ok(user), Ok(token)) = (text(authz), text(user), text(password)) else {
            return Err(fail("PLAIN fields must be UTF-8"));
        };
        let Some(tokens) = &kafka.tokens else {
            return Err(fail("security is off"));
        };
        let principal = tokens
            .principal_of_token(&token)
            .map_err(|e| fail(&e.0.message))?;
        if user != principal || !(authz.is_empty() || authz == principal) {
            return Err(fail(&format!(
                "the username must be the token's principal ({principal:?}), not {user:?}"
            )));
        }
        self.auth = Some((principal, token));
        Ok(())
    }
}
