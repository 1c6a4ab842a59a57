//! How clients reach a secured cluster: the CA that signed the nodes' certificates (servers
//! are verified against it, over TLS) and the token naming the client's principal.
//!
//! Clients built without explicit credentials use the process default
//! ([`Credentials::set_process_default`]), which the CLIs set from `--ca-cert` and `--token`
//! (or `RAFTBUS_CA_CERT` and `RAFTBUS_TOKEN`). No CA means plain HTTP: an insecure cluster.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::SdkError;

/// A CA certificate (PEM) and a token; both optional. Cheap to clone.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The cluster CA's certificates, parsed once; `None` = plain HTTP.
    ca: Option<Arc<Vec<reqwest::Certificate>>>,
    /// Bearer token sent with every request.
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Credentials")
            .field("tls", &self.ca.is_some())
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Set by [`Credentials::set_process_default`].
static PROCESS_DEFAULT: RwLock<Option<Credentials>> = RwLock::new(None);

impl Credentials {
    /// Reads the CA file (if any) and keeps the token (if any). Fails naming the file when it
    /// cannot be read or holds no certificate, and on a token that cannot be sent in a header.
    pub fn new(ca_cert: Option<&Path>, token: Option<&str>) -> Result<Self, SdkError> {
        let ca = match ca_cert {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    SdkError::InvalidArgument(format!(
                        "cannot read CA certificate {}: {e}",
                        path.display()
                    ))
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    SdkError::InvalidArgument(format!("bad CA certificate {}: {e}", path.display()))
                })?;
                if certs.is_empty() {
                    return Err(SdkError::InvalidArgument(format!(
                        "CA certificate file {} holds no certificate",
                        path.display()
                    )));
                }
                Some(Arc::new(certs))
            }
        };
        let token = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) if t.bytes().all(|b| b.is_ascii_graphic()) => Some(Arc::from(t)),
            Some(_) => {
                return Err(SdkError::InvalidArgument(
                    "the token holds characters a token never has (spaces or control characters)"
                        .into(),
                ));
            }
        };
        Ok(Self { ca, token })
    }

    /// Makes `c` the credentials of clients built without explicit ones in this process.
    pub fn set_process_default(c: Credentials) {
        *PROCESS_DEFAULT.write().expect("credentials lock") = Some(c);
    }

    /// The process default (none: plain HTTP, no token).
    pub fn process_default() -> Credentials {
        PROCESS_DEFAULT
            .read()
            .expect("credentials lock")
            .clone()
            .unwrap_or_default()
    }

    /// `https` with a CA, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.ca.is_some() { "https" } else { "http" }
    }

    /// True when a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Finishes `builder`: only the cluster CA is trusted, and every request carries the token.
    pub(crate) fn client(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, SdkError> {
        let bad =
            |e: reqwest::Error| SdkError::InvalidArgument(format!("cannot build HTTP client: {e}"));
        let mut builder = builder;
        if let Some(certs) = &self.ca {
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs.iter() {
                builder = builder.add_root_certificate(cert.clone());
            }
        }
        if let Some(token) = &self.token {
            let mut headers = reqwest::header::HeaderMap::new();
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| SdkError::InvalidArgument(format!("bad token: {e}")))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        builder.build().map_err(bad)
    }
}
