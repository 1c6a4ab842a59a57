//! Node identities on internal listeners.
//!
//! A node certificate is issued for `<role>-<id>.node.raftbus` (e.g. `broker-3.node.raftbus`).
//! An internal request names its sender in [`SENDER_HEADER`] (`broker-3`); the [`Caller`]
//! extractor accepts the request only when the connection's verified certificate is valid for
//! that name, so node 2's certificate cannot speak for node 3. Handlers then check the role
//! (`Caller::require`) and, where a body names a node, that it is the caller.

use std::any::Any;
use std::fmt;
use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::dev::{Extensions, Payload};
use actix_web::{FromRequest, HttpRequest};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::http::ApiError;
use rustls::pki_types::{CertificateDer, ServerName};

/// Header in which an internal caller names itself (`broker-3`, `manager-1`).
pub const SENDER_HEADER: &str = "x-raftbus-sender";

/// The two kinds of node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A data-plane node hosting partition replicas.
    Broker,
    /// A member of the metadata group.
    Manager,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Broker => "broker",
            Role::Manager => "manager",
        })
    }
}

/// A node as named in certificates and in the sender header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeIdentity {
    /// Broker or manager (their ids are separate number spaces).
    pub role: Role,
    /// The node id.
    pub id: u64,
}

impl NodeIdentity {
    /// A broker's identity.
    pub fn broker(id: u64) -> Self {
        Self {
            role: Role::Broker,
            id,
        }
    }

    /// A manager's identity.
    pub fn manager(id: u64) -> Self {
        Self {
            role: Role::Manager,
            id,
        }
    }

    /// The DNS name its certificate carries.
    pub fn dns_name(&self) -> String {
        format!("{}-{}.node.raftbus", self.role, self.id)
    }
}

impl fmt::Display for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.role, self.id)
    }
}

impl FromStr for NodeIdentity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a node name like broker-3 or manager-1");
        let (role, id) = s.split_once('-').ok_or_else(bad)?;
        let role = match role {
            "broker" => Role::Broker,
            "manager" => Role::Manager,
            _ => return Err(bad()),
        };
        let id = id.parse().map_err(|_| bad())?;
        Ok(Self { role, id })
    }
}

/// What a connection proved about its peer, stored by [`on_connect`].
#[derive(Debug, Clone)]
pub enum PeerAuth {
    /// The end-entity certificate the peer presented (its chain already verified).
    Cert(CertificateDer<'static>),
    /// A cleartext connection of an insecure-mode listener: claims are taken as they come.
    Insecure,
}

/// actix-web `on_connect` hook of every listener: TCP_NODELAY (answers stream as separate
/// writes; Nagle would hold each for the peer's delayed ACK) and the peer's certificate.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    use actix_web::rt::net::TcpStream;
    let tcp = if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
        ext.insert(PeerAuth::Insecure);
        tcp
    } else if let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>() {
        let (tcp, session) = tls.get_ref();
        if let Some(cert) = session.peer_certificates().and_then(|c| c.first()) {
            ext.insert(PeerAuth::Cert(cert.clone().into_owned()));
        }
        tcp
    } else {
        return;
    };
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "cannot set TCP_NODELAY");
    }
}

/// The authenticated sender of an internal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub NodeIdentity);

impl Caller {
    /// The caller, or `401`/`403` naming what is missing or wrong.
    pub fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        let claimed = req
            .headers()
            .get(SENDER_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    format!("internal call without the {SENDER_HEADER} header"),
                )
            })?;
        let who: NodeIdentity = claimed
            .parse()
            .map_err(|e: String| ApiError::new(ErrorCode::Unauthenticated, e))?;
        match req.conn_data::<PeerAuth>() {
            Some(PeerAuth::Insecure) => Ok(Self(who)),
            Some(PeerAuth::Cert(der)) => {
                let valid = webpki::EndEntityCert::try_from(der).and_then(|cert| {
                    let name = ServerName::try_from(who.dns_name())
                        .map_err(|_| webpki::Error::MalformedDnsIdentifier)?;
                    cert.verify_is_valid_for_subject_name(&name)
                });
                match valid {
                    Ok(()) => Ok(Self(who)),
                    Err(e) => Err(ApiError::new(
                        ErrorCode::Forbidden,
                        format!("the client certificate is not valid for {who}: {e}"),
                    )),
                }
            }
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "internal calls need a client certificate of the cluster CA",
            )),
        }
    }

    /// `Ok` when the caller is a node of `role`, else `403`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role == role {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("{} may not make this call: only a {role} may", self.0),
            ))
        }
    }

    /// `Ok` when the caller is exactly `node`, else `403`.
    pub fn require_node(&self, node: NodeIdentity) -> Result<(), ApiError> {
        if self.0 == node {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("{} may not speak for {node}", self.0),
            ))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(req))
    }
}
