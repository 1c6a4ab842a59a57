//! rustls configurations of a node, and binding an actix-web server with or without them.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{SecurityError, SecuritySettings};

/// The TLS material of a node, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct NodeTls {
    /// The internal listener: a certificate of the cluster CA is required of every caller.
    pub internal: Arc<ServerConfig>,
    /// The client listener: the node proves who it is; clients authenticate with tokens.
    pub public: Arc<ServerConfig>,
    /// Internal calls: servers verified against the cluster CA, this node's certificate
    /// presented as its identity, HTTP/2 only.
    pub client: Arc<ClientConfig>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_err(key: &'static str, path: &str, message: impl ToString) -> SecurityError {
    SecurityError::File {
        key,
        path: path.into(),
        message: message.to_string(),
    }
}

/// Every certificate in a PEM file (at least one).
pub(crate) fn load_certs(
    key: &'static str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(key, path, e))?;
    if certs.is_empty() {
        return Err(file_err(key, path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

impl NodeTls {
    /// Loads the files `[security]` names; `None` in insecure mode.
    pub fn load(s: &SecuritySettings) -> Result<Option<Self>, SecurityError> {
        s.validate()?;
        if s.insecure {
            return Ok(None);
        }
        let mut roots = RootCertStore::empty();
        for ca in load_certs("ca_cert", &s.ca_cert)? {
            roots
                .add(ca)
                .map_err(|e| file_err("ca_cert", &s.ca_cert, e))?;
        }
        let roots = Arc::new(roots);
        let chain = load_certs("cert", &s.cert)?;
        let key = PrivateKeyDer::from_pem_file(&s.key).map_err(|e| file_err("key", &s.key, e))?;

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| SecurityError::Config(e.to_string()))?;
        let internal = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())?;
        let public = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key.clone_key())?;
        let mut client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        client.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Some(Self {
            internal: Arc::new(internal),
            public: Arc::new(public),
            client: Arc::new(client),
        }))
    }
}

/// Binds an actix-web `HttpServer` on `addr`: TLS with `Some(&Arc<ServerConfig>)` (HTTP/2
/// and HTTP/1.1 by ALPN), cleartext HTTP/2 and HTTP/1.1 with `None` (insecure mode). A macro
/// because `HttpServer`'s generic bounds name `actix-http` types.
#[macro_export]
macro_rules! bind {
    ($server:expr, $addr:expr, $tls:expr) => {
        match $tls {
            Some(cfg) => $server.bind_rustls_0_23($addr, (**cfg).clone()),
            None => $server.bind_auto_h2c($addr),
        }
    };
}

/// Binds and starts a node's client listener: `$configure` (a cloneable
/// `Fn(&mut ServiceConfig)`) behind the [`authorize`](crate::token::authorize) middleware with
/// `$tokens` (`Option<web::Data<Tokens>>`; `None` in insecure mode), TLS with `$tls`
/// (`Option<&Arc<ServerConfig>>`), `$workers` workers, signals left to the caller, and 1 s for
/// in-flight requests at shutdown (clients keep HTTP/2 connections open). Evaluates to
/// `io::Result<Server>`.
#[macro_export]
macro_rules! client_server {
    ($addr:expr, $workers:expr, $tls:expr, $tokens:expr, $configure:expr) => {
        $crate::client_server!(
            $addr,
            $workers,
            max_connections = 25_000 * $workers,
            $tls,
            $tokens,
            $configure
        )
    };
    // `max_connections` is per node; actix counts per worker thread.
    ($addr:expr, $workers:expr, max_connections = $max:expr, $tls:expr, $tokens:expr,
     $configure:expr) => {{
        let tokens = $tokens;
        let configure = $configure;
        let server = actix_web::HttpServer::new(move || {
            let mut app = actix_web::App::new();
            if let Some(t) = &tokens {
                app = app.app_data(t.clone());
            }
            app.wrap(actix_web::middleware::from_fn($crate::token::authorize))
                .configure(configure.clone())
        })
        .workers($workers)
        .max_connections(($max).div_ceil(($workers).max(1)))
        .disable_signals()
        .on_connect($crate::identity::on_connect)
        .shutdown_timeout(1);
        $crate::bind!(server, $addr, $tls).map(|s| s.run())
    }};
}

/// Configures `builder` for internal calls made as `me`: the node's client TLS configuration
/// (in secure mode) and the sender header naming `me` on every request.
pub fn internal_client(
    builder: reqwest::ClientBuilder,
    tls: Option<&NodeTls>,
    me: crate::NodeIdentity,
) -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        crate::identity::SENDER_HEADER,
        reqwest::header::HeaderValue::from_str(&me.to_string())
            .expect("a role and a number make a valid header value"),
    );
    let builder = builder.default_headers(headers);
    match tls {
        Some(t) => builder.use_preconfigured_tls((*t.client).clone()),
        None => builder,
    }
}

/// `https` with TLS, `http` in insecure mode.
pub fn scheme(tls: Option<&NodeTls>) -> &'static str {
    if tls.is_some() { "https" } else { "http" }
}

/// An HTTP/2 client for calls to other nodes (internal listeners, peers' client API): over
/// TLS verified against the cluster CA, presenting the node's certificate, or cleartext in
/// insecure mode.
#[derive(Debug, Clone)]
pub struct NodeHttp {
    /// The client; connections are kept open between calls.
    pub http: reqwest::Client,
    /// `https`, or `http` in insecure mode.
    pub scheme: &'static str,
}

impl NodeHttp {
    /// Finishes `builder` (timeouts set by the caller) for calls made as `me`.
    pub fn new(
        builder: reqwest::ClientBuilder,
        tls: Option<&NodeTls>,
        me: crate::NodeIdentity,
    ) -> Self {
        let builder = builder.http2_prior_knowledge().tcp_nodelay(true).no_proxy();
        Self {
            http: internal_client(builder, tls, me)
                .build()
                .expect("static reqwest configuration is valid"),
            scheme: scheme(tls),
        }
    }

    /// `scheme://addr{path}`.
    pub fn url(&self, addr: &str, path: &str) -> String {
        format!("{}://{addr}{path}", self.scheme)
    }
}
