//! `hookwarden keys`: generate TEST-ONLY key material.

use std::path::PathBuf;

use clap::Subcommand;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_RSA_SHA256};
use time::macros::datetime;

use crate::failure::Failure;
use crate::files;
use crate::test_keys::{self, KNOX_CERT_FILE, KNOX_KEY_FILE};

/// Long enough that committed samples keep verifying for the life of the project.
const NOT_BEFORE: time::OffsetDateTime = datetime!(2025-01-01 00:00 UTC);
const NOT_AFTER: time::OffsetDateTime = datetime!(2125-01-01 00:00 UTC);
const COMMON_NAME: &str = "hookwarden Knox TEST-ONLY signing certificate (not Samsung)";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a TEST-ONLY RSA-2048 key (PKCS#8 PEM, knox-test-key.pem) and a self-signed
    /// certificate valid 2025-2125 (knox-test-cert.pem), to sign Knox callbacks locally.
    Knox {
        /// Directory to write the two files into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Knox { out, force } => knox(out, force),
    }
}

fn knox(out: PathBuf, force: bool) -> Result<(), Failure> {
    let key_path = out.join(KNOX_KEY_FILE);
    let cert_path = out.join(KNOX_CERT_FILE);
    if !force {
        if let Some(existing) = [&key_path, &cert_path].into_iter().find(|p| p.exists()) {
            return Err(Failure::input(format!(
                "{} already exists; pass --force to replace it",
                existing.display()
            )));
        }
    }
    let (key_pem, cert_pem) =
        generate_knox().map_err(|err| Failure::input(format!("cannot generate the key: {err}")))?;
    // Read back through the verifier's own parsers, so a file written here is one the
    // other commands accept.
    test_keys::knox_key(&key_pem, "the generated key")?;
    let certificate =
        test_keys::knox_certificate(cert_pem.as_bytes(), "the generated certificate")?;
    files::write(&key_path, key_pem.as_bytes())?;
    files::write(&cert_path, cert_pem.as_bytes())?;
    println!(
        "wrote {} and {} (TEST-ONLY; certificate sha256 {})",
        key_path.display(),
        cert_path.display(),
        certificate.fingerprint_sha256()
    );
    Ok(())
}

/// A fresh RSA-2048 key (aws-lc-rs generates it through rcgen) and its self-signed
/// certificate, both PEM.
fn generate_knox() -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, COMMON_NAME);
    name.push(DnType::OrganizationName, "hookwarden test keys");
    params.distinguished_name = name;
    params.not_before = NOT_BEFORE;
    params.not_after = NOT_AFTER;
    let certificate = params.self_signed(&key)?;
    Ok((key.serialize_pem(), certificate.pem()))
}
