//! The Samsung Knox validation certificate.
//!
//! Only the public key and the validity period are used. The certificate is a pinned anchor
//! the operator (or the downloader) supplies; no chain is built because Samsung documents none.

use base64::Engine as _;
use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::encoding;
use crate::reject::RejectKind;
use crate::rsa::{RsaError, RsaPublicKey};

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is neither DER nor PEM with a complete `{PEM_BEGIN}` … `{PEM_END}` block; supply the Samsung Knox validation certificate as downloaded")]
    NotPem,
    #[error("the certificate PEM block is not valid base64")]
    PemBase64,
    #[error("not an X.509 certificate: {0}")]
    Der(der::Error),
    #[error("the certificate's public key cannot verify Knox signatures: {0}")]
    PublicKey(#[from] RsaError),
}

impl CertificateError {
    /// Without a usable certificate nothing can be verified: that is our outage, not the
    /// sender's fault.
    pub fn kind(&self) -> RejectKind {
        RejectKind::CertificateUnusable
    }
}

/// A parsed Knox validation certificate: its RSA key ready to verify, and its validity period.
#[derive(Clone)]
pub struct KnoxCertificate {
    der: Vec<u8>,
    fingerprint: String,
    not_before: i64,
    not_after: i64,
    public_key: RsaPublicKey,
}

impl std::fmt::Debug for KnoxCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnoxCertificate")
            .field("fingerprint_sha256", &self.fingerprint)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl KnoxCertificate {
    /// Parses DER, or PEM (the first `CERTIFICATE` block; text around it is ignored).
    pub fn parse(bytes: &[u8]) -> Result<Self, CertificateError> {
        // A DER certificate starts with a SEQUENCE tag; anything else must be PEM.
        let der = if bytes.first() == Some(&0x30) {
            bytes.to_vec()
        } else {
            first_pem_certificate(bytes)?
        };
        let cert = Certificate::from_der(&der).map_err(CertificateError::Der)?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(CertificateError::Der)?;
        let public_key = RsaPublicKey::from_spki_der(&spki)?;
        Ok(Self {
            fingerprint: hex::encode(Sha256::digest(&der)),
            not_before: unix_seconds(tbs.validity.not_before),
            not_after: unix_seconds(tbs.validity.not_after),
            public_key,
            der,
        })
    }

    /// Lowercase hex SHA-256 of the DER: what `openssl x509 -fingerprint -sha256` prints,
    /// without colons.
    pub fn fingerprint_sha256(&self) -> &str {
        &self.fingerprint
    }

    /// Start of the validity period, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of the validity period (inclusive), unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Same rule as Java's `X509Certificate.checkValidity`: both ends inclusive.
    pub fn is_valid_at(&self, now_unix: i64) -> bool {
        self.not_before <= now_unix && now_unix <= self.not_after
    }

    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

fn unix_seconds(time: x509_cert::time::Time) -> i64 {
    // X.509 times are 1950..=9999, and `der` refuses dates before 1970, so this always fits.
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Extracts the first `CERTIFICATE` block. Deliberately more tolerant than RFC 7468's strict
/// grammar (any line length, CRLF, text or further blocks around it) because the format of
/// Samsung's download is undocumented; the DER inside is still parsed strictly.
fn first_pem_certificate(bytes: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CertificateError::NotPem)?;
    let start = text.find(PEM_BEGIN).ok_or(CertificateError::NotPem)? + PEM_BEGIN.len();
    let len = text[start..]
        .find(PEM_END)
        .ok_or(CertificateError::NotPem)?;
    let body: String = text[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    encoding::STANDARD
        .decode(body)
        .map_err(|_| CertificateError::PemBase64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Certificates made by the `openssl` CLI, so fingerprints and dates are checked against an
    /// independent implementation.
    struct OpensslCert {
        dir: tempfile::TempDir,
    }

    impl OpensslCert {
        fn new(key_args: &[&str], validity: &[&str]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("key.pem");
            openssl(&[&["genpkey", "-out", key.to_str().unwrap()], key_args].concat());
            let cert = dir.path().join("cert.pem");
            openssl(
                &[
                    &[
                        "req",
                        "-new",
                        "-x509",
                        "-key",
                        key.to_str().unwrap(),
                        "-subj",
                        "/CN=Samsung Knox test",
                        "-out",
                        cert.to_str().unwrap(),
                    ][..],
                    validity,
                ]
                .concat(),
            );
            openssl(&[
                "x509",
                "-in",
                cert.to_str().unwrap(),
                "-outform",
                "DER",
                "-out",
                dir.path().join("cert.der").to_str().unwrap(),
            ]);
            Self { dir }
        }

        fn rsa(validity: &[&str]) -> Self {
            Self::new(
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                validity,
            )
        }

        fn pem(&self) -> String {
            std::fs::read_to_string(self.dir.path().join("cert.pem")).unwrap()
        }

        fn der(&self) -> Vec<u8> {
            std::fs::read(self.dir.path().join("cert.der")).unwrap()
        }

        /// `openssl x509 -noout <flag>` output after the `=`.
        fn field(&self, flag: &str) -> String {
            let out = Command::new("openssl")
                .args(["x509", "-noout", flag, "-in"])
                .arg(self.dir.path().join("cert.pem"))
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            text.trim().split_once('=').unwrap().1.to_owned()
        }
    }

    fn openssl(args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl CLI must be installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `date -d` turns openssl's `Jan  1 00:00:00 2030 GMT` into unix seconds independently.
    fn gnu_date(text: &str) -> i64 {
        let out = Command::new("date")
            .args(["-u", "-d", text, "+%s"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn pem_and_der_parse_to_the_same_certificate() {
        let openssl_cert = OpensslCert::rsa(&["-days", "30"]);
        let from_pem = KnoxCertificate::parse(openssl_cert.pem().as_bytes()).unwrap();
        let from_der = KnoxCertificate::parse(&openssl_cert.der()).unwrap();
        assert_eq!(from_pem.der(), openssl_cert.der());
        assert_eq!(from_der.der(), openssl_cert.der());

        let sha256 = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(openssl_cert.dir.path().join("cert.pem"))
            .output()
            .unwrap();
        let sha256 = String::from_utf8(sha256.stdout).unwrap();
        let sha256 = sha256.trim().split_once('=').unwrap().1.replace(':', "");
        assert_eq!(from_der.fingerprint_sha256(), sha256.to_lowercase());
        assert_eq!(from_pem.fingerprint_sha256(), from_der.fingerprint_sha256());

        assert_eq!(
            from_pem.not_before(),
            gnu_date(&openssl_cert.field("-startdate"))
        );
        assert_eq!(
            from_pem.not_after(),
            gnu_date(&openssl_cert.field("-enddate"))
        );
        assert_eq!(from_pem.public_key().modulus_len(), 256);
    }

    #[test]
    fn validity_bounds_are_inclusive() {
        // openssl 3.0's `req` cannot set arbitrary dates; rcgen (a different X.509 writer) can.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["knox.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2030, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let cert = KnoxCertificate::parse(params.self_signed(&key).unwrap().der()).unwrap();
        let start = gnu_date("2030-01-01 00:00:00 UTC");
        let end = gnu_date("2030-01-02 00:00:00 UTC");
        assert_eq!((cert.not_before(), cert.not_after()), (start, end));
        assert!(!cert.is_valid_at(start - 1));
        assert!(cert.is_valid_at(start));
        assert!(cert.is_valid_at(end));
        assert!(!cert.is_valid_at(end + 1));
    }

    #[test]
    fn pem_with_surrounding_text_crlf_and_a_chain_takes_the_first_block() {
        let first = OpensslCert::rsa(&["-days", "1"]);
        let second = OpensslCert::rsa(&["-days", "1"]);
        let bundle = format!(
            "Samsung Knox validation certificate\r\n{}{}trailer",
            first.pem().replace('\n', "\r\n"),
            second.pem()
        );
        let cert = KnoxCertificate::parse(bundle.as_bytes()).unwrap();
        assert_eq!(cert.der(), first.der());
    }

    #[test]
    fn rejects_non_certificates_and_non_rsa_keys() {
        assert!(matches!(
            KnoxCertificate::parse(b"hello"),
            Err(CertificateError::NotPem)
        ));
        assert!(matches!(
            KnoxCertificate::parse(b"-----BEGIN CERTIFICATE-----\nAAAA"),
            Err(CertificateError::NotPem)
        ));
        assert!(matches!(
            KnoxCertificate::parse(
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
            ),
            Err(CertificateError::PemBase64)
        ));
        assert!(matches!(
            KnoxCertificate::parse(b"\x30\x03\x02\x01\x01"),
            Err(CertificateError::Der(_))
        ));
        let mut truncated = OpensslCert::rsa(&["-days", "1"]).der();
        truncated.pop();
        assert!(matches!(
            KnoxCertificate::parse(&truncated),
            Err(CertificateError::Der(_))
        ));

        let ec = OpensslCert::new(
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &["-days", "1"],
        );
        let err = KnoxCertificate::parse(&ec.der()).unwrap_err();
        assert!(matches!(
            err,
            CertificateError::PublicKey(RsaError::NotRsa { .. })
        ));
        assert_eq!(err.kind(), RejectKind::CertificateUnusable);
    }
}
