//! TLS configuration for the server: a certificate chain and key from PEM files, or
//! a self-signed certificate for development.
//!
//! Both use the `ring` crypto provider explicitly (never a process-wide default, which
//! another crate could install or leave unset) and advertise ALPN `h2` then
//! `http/1.1`, so a TLS client that speaks HTTP/2 gets it. A bad file is reported
//! naming the file and what is wrong with it, because that message is what an
//! operator sees when `vigor serve` refuses to start.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

/// ALPN protocols offered, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Names a self-signed certificate covers when none are given.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A server configuration from a PEM certificate chain (leaf first) and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1).
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = read_chain(cert)?;
    let private_key = read_key(key)?;
    let config = server_config(chain, private_key).with_context(|| {
        format!(
            "TLS key {} cannot be used with certificate {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Arc::new(config))
}

/// A server configuration with a new self-signed certificate for `names` (DNS names
/// or IP addresses; [`DEFAULT_NAMES`] when empty), and that certificate as PEM so a
/// client can be told to trust it.
pub fn self_signed(names: &[String]) -> anyhow::Result<(Arc<ServerConfig>, String)> {
    let names: Vec<String> = if names.is_empty() {
        DEFAULT_NAMES.iter().map(|n| (*n).to_owned()).collect()
    } else {
        names.to_vec()
    };
    let certified = rcgen::generate_simple_self_signed(names.clone())
        .with_context(|| format!("generating a self-signed certificate for {names:?}"))?;
    let pem = certified.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = server_config(vec![certified.cert.der().clone()], key)
        .context("building the TLS configuration for the self-signed certificate")?;
    Ok((Arc::new(config), pem))
}

/// The ring provider, TLS 1.2 and 1.3, no client authentication, ALPN set.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the ring provider supports the default TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read TLS certificate {}", path.display()))?;
    let chain = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("TLS certificate {} is not valid PEM", path.display()))?;
    if chain.is_empty() {
        bail!(
            "TLS certificate {} holds no certificate (expected a PEM \"BEGIN CERTIFICATE\" block)",
            path.display()
        );
    }
    Ok(chain)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read TLS key {}", path.display()))?;
    match rustls_pemfile::private_key(&mut BufReader::new(file)) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => bail!(
            "TLS key {} holds no private key (expected a PEM \"BEGIN PRIVATE KEY\", \
             \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("TLS key {} is not valid PEM", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        path
    }

    fn generated() -> rcgen::CertifiedKey {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap()
    }

    #[test]
    fn self_signed_offers_h2_and_http11() {
        let (config, pem) = self_signed(&[]).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn loads_a_pkcs8_key_and_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generated();
        let cert = write(dir.path(), "cert.pem", &generated.cert.pem());
        let key = write(dir.path(), "key.pem", &generated.key_pair.serialize_pem());
        let config = load(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols.len(), 2);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generated();
        let cert = write(dir.path(), "cert.pem", &generated.cert.pem());
        let key = write(dir.path(), "key.pem", &generated.key_pair.serialize_pem());

        let missing = dir.path().join("missing.pem");
        let error = format!("{:#}", load(&missing, &key).unwrap_err());
        assert!(
            error.contains("cannot read TLS certificate") && error.contains("missing.pem"),
            "{error}"
        );

        let empty = write(dir.path(), "empty.pem", "not a certificate\n");
        let error = format!("{:#}", load(&empty, &key).unwrap_err());
        assert!(
            error.contains("empty.pem") && error.contains("holds no certificate"),
            "{error}"
        );

        // A certificate where the key should be.
        let error = format!("{:#}", load(&cert, &cert).unwrap_err());
        assert!(
            error.contains("TLS key") && error.contains("holds no private key"),
            "{error}"
        );

        // Another certificate's key.
        let other = write(
            dir.path(),
            "other.pem",
            &self::generated().key_pair.serialize_pem(),
        );
        let error = format!("{:#}", load(&cert, &other).unwrap_err());
        assert!(
            error.contains("other.pem") && error.contains("cannot be used with certificate"),
            "{error}"
        );
    }
}
