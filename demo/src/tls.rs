//! TLS of the Kubernetes API ports: a CA and a server certificate (for `127.0.0.1` and
//! `localhost`) made fresh for each run, the CA written into the kubeconfig.
//!
//! Why TLS on loopback: kubectl (client-go) sends a kubeconfig's credentials only over TLS,
//! so a server that requires the bearer token it wrote must speak HTTPS, as every real
//! cluster does. The CA's private key is dropped once it has signed the server certificate.

use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What the Kubernetes API listeners serve and what clients must trust.
#[derive(Clone)]
pub struct DemoTls {
    /// The CA certificate (PEM), for `certificate-authority-data` and test clients.
    pub ca_pem: String,
    pub server: Arc<ServerConfig>,
}

impl std::fmt::Debug for DemoTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoTls").finish_non_exhaustive()
    }
}

impl DemoTls {
    /// A new CA and a server certificate signed by it (ECDSA P-256).
    pub fn generate() -> anyhow::Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kdeck demo CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().context("generating the demo CA key")?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kdeck demo API server");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().context("generating the demo server key")?;
        let cert = params.signed_by(&key, &ca)?;

        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .context("the demo server certificate")?;
        // The server speaks HTTP/1.1 only; clients that offer h2 fall back to it.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca_cert.pem(),
            server: Arc::new(server),
        })
    }
}
