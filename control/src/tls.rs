//! Server-side TLS for Steward's listeners (the control plane, `steward receive`): loads a PEM
//! certificate chain and key, optionally a CA whose signature client certificates must carry
//! (mutual TLS), and accepts TLS connections for axum, with each handshake done in its own task
//! so one slow or broken client never holds up the others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use steward_edge::config::ControlTls;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener's TLS files, and the names the operator knows them by (for error messages).
pub struct ServerTls<'a> {
    pub cert: (&'a Path, &'a str),
    pub key: (&'a Path, &'a str),
    /// Only clients with a certificate signed by this CA (PEM bundle) get through.
    pub client_ca: Option<(PathBuf, &'a str)>,
}

/// The control plane's TLS, from `[control] tls_cert` / `tls_key`.
pub fn server_config(tls: &ControlTls) -> anyhow::Result<Arc<ServerConfig>> {
    server_config_from(&ServerTls { cert: (&tls.cert, "[control] tls_cert"), key: (&tls.key, "[control] tls_key"), client_ca: None })
}

/// The server side of TLS; errors name the file, the setting and what is wrong.
pub fn server_config_from(tls: &ServerTls<'_>) -> anyhow::Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = (tls.cert.0, tls.key.0);
    let certs = read_certificates(cert_path, tls.cert.1)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| anyhow::anyhow!("{}: no usable private key ({}): {e}", key_path.display(), tls.key.1))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().context("TLS protocol versions")?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some((ca_path, name)) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates(ca_path, name)? {
                roots.add(certificate).map_err(|e| anyhow::anyhow!("{}: not a usable CA certificate ({name}): {e}", ca_path.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| anyhow::anyhow!("{}: cannot check client certificates with it ({name}): {e}", ca_path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .with_context(|| format!("{} and {} do not make a certificate and its key", cert_path.display(), key_path.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certificates(path: &Path, name: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{}: cannot read the certificates ({name}): {e}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{}: no certificate in this PEM file ({name})", path.display());
    Ok(certs)
}

/// Accepted TLS connections, handshakes done. Dropping it stops accepting.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (done, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, done) = (acceptor.clone(), done.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = done.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::info!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task never ends on its own; if it is gone, accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
