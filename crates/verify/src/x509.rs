//! The Samsung Knox validation certificate.
//!
//! Only the public key and the validity period are used. The certificate is a pinned anchor
//! the operator (or the downloader) supplies; no chain is built because Samsung documents none
//! (its issuer, "Samsung Service Server", is a Samsung-private CA). What can be pinned instead
//! is the key: [`SpkiPin`] is the SHA-256 of the certificate's DER SubjectPublicKeyInfo, which
//! Samsung kept across its 2024 renewal ([`SAMSUNG_KNOX_SPKI_SHA256`]).

use base64::Engine as _;
use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::encoding;
use crate::reject::RejectKind;
use crate::rsa::{RsaError, RsaPublicKey};

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// The SubjectPublicKeyInfo SHA-256 of Samsung's published Knox validation certificate
/// (`CN=*.samsungknox.com`, valid 2024-09-25 to 2027-09-25) and of the one before it (valid
/// 2022-10-31 to 2025-10-30): one key, renewed twice. Research notes `protocols-2.md`.
pub const SAMSUNG_KNOX_SPKI_SHA256: &str =
    "c7bd4723b0358695a301338180fc0d296aeb4973c3c1d88dd7ef197dfdd23527";

/// A public-key pin: the SHA-256 of a certificate's DER SubjectPublicKeyInfo, as
/// `openssl x509 -pubkey -noout -in cert.pem | openssl pkey -pubin -outform DER | sha256sum`
/// prints it. Unlike a certificate fingerprint it survives a renewal that keeps the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SpkiPin([u8; 32]);

impl std::fmt::Debug for SpkiPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpkiPin({})", hex::encode(self.0))
    }
}

impl std::fmt::Display for SpkiPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected SHA-256 digests as 64 hex digits, separated by commas, got {0:?}")]
pub struct PinError(pub String);

impl SpkiPin {
    /// 64 hex digits, either case.
    pub fn from_hex(text: &str) -> Result<Self, PinError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut digest).map_err(|_| PinError(text.to_owned()))?;
        Ok(Self(digest))
    }

    /// Comma-separated pins, each trimmed (several during a key rotation). An empty entry is
    /// a typo, not "no pin", so it is refused.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, PinError> {
        text.split(',')
            .map(|pin| Self::from_hex(pin).map_err(|_| PinError(text.to_owned())))
            .collect()
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

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
        RejectKind::NoUsableKey
    }
}

/// A parsed Knox validation certificate: its RSA key ready to verify, and its validity period.
#[derive(Clone)]
pub struct KnoxCertificate {
    der: Vec<u8>,
    fingerprint: String,
    spki: SpkiPin,
    not_before: i64,
    not_after: i64,
    public_key: RsaPublicKey,
}

impl std::fmt::Debug for KnoxCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnoxCertificate")
            .field("fingerprint_sha256", &self.fingerprint)
            .field("spki_sha256", &self.spki)
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
            spki: SpkiPin(Sha256::digest(&spki).into()),
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

    /// The SHA-256 of the DER SubjectPublicKeyInfo: what a [`SpkiPin`] is compared with.
    pub fn spki_sha256(&self) -> SpkiPin {
        self.spki
    }

    /// Whether the certificate's public key is one of `pins`.
    pub fn key_is_pinned(&self, pins: &[SpkiPin]) -> bool {
        pins.contains(&self.spki)
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
        assert_eq!(err.kind(), RejectKind::NoUsableKey);
    }

    /// Samsung's published certificate and the one it replaced, as the KWN tutorials offered
    /// them (`assets/samsung-knox-validation-certificate.pem`): two certificates, one key.
    #[test]
    fn samsungs_certificates_carry_the_default_pin() {
        let pin = SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap();
        for (pem, fingerprint, not_after) in [
            (
                include_str!("../tests/data/samsung-knox-validation-2024.pem"),
                "d076963268e3ddce4cc8239004067426c905695baf4bd1d58e186215c4439ccc",
                "2027-09-25 21:19:33 UTC",
            ),
            (
                include_str!("../tests/data/samsung-knox-validation-2022.pem"),
                "5d32eff2ed2a8acc93c8fff41539eb4c16fb023bd1baa327039975e95561a7c6",
                "2025-10-30 05:17:14 UTC",
            ),
        ] {
            let cert = KnoxCertificate::parse(pem.as_bytes()).unwrap();
            assert_eq!(cert.fingerprint_sha256(), fingerprint);
            assert_eq!(cert.not_after(), gnu_date(not_after));
            assert_eq!(cert.spki_sha256(), pin);
            assert_eq!(cert.spki_sha256().to_string(), SAMSUNG_KNOX_SPKI_SHA256);
            assert!(cert.key_is_pinned(&[pin]));
            assert_eq!(cert.public_key().modulus_len(), 256);
        }
    }

    /// The SPKI digest against openssl's own DER encoding of the public key.
    #[test]
    fn spki_digest_matches_openssl() {
        let openssl_cert = OpensslCert::rsa(&["-days", "1"]);
        let cert = KnoxCertificate::parse(openssl_cert.pem().as_bytes()).unwrap();
        let dir = &openssl_cert.dir;
        let public = dir.path().join("public.pem");
        let spki = dir.path().join("spki.der");
        let cert_path = dir.path().join("cert.pem");
        let (cert_path, public, spki) = (
            cert_path.to_str().unwrap(),
            public.to_str().unwrap(),
            spki.to_str().unwrap(),
        );
        openssl(&[
            "x509", "-pubkey", "-noout", "-in", cert_path, "-out", public,
        ]);
        openssl(&[
            "pkey", "-pubin", "-in", public, "-outform", "DER", "-out", spki,
        ]);
        let expected = hex::encode(Sha256::digest(std::fs::read(spki).unwrap()));
        assert_eq!(cert.spki_sha256().to_string(), expected);
        assert!(!cert.key_is_pinned(&[SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap()]));
        assert!(!cert.key_is_pinned(&[]));
    }

    #[test]
    fn pin_lists() {
        let samsung = SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap();
        let other = SpkiPin([0xab; 32]);
        assert_eq!(
            SpkiPin::parse_list(&SAMSUNG_KNOX_SPKI_SHA256.to_uppercase()).unwrap(),
            [samsung]
        );
        assert_eq!(
            SpkiPin::parse_list(&format!(" {SAMSUNG_KNOX_SPKI_SHA256} , {other} ")).unwrap(),
            [samsung, other]
        );
        for bad in [
            "",
            ",",
            "c7bd",
            &format!("{SAMSUNG_KNOX_SPKI_SHA256},"),
            &format!("{SAMSUNG_KNOX_SPKI_SHA256}00"),
            &format!("sha256:{SAMSUNG_KNOX_SPKI_SHA256}"),
            &SAMSUNG_KNOX_SPKI_SHA256.replace('c', "g"),
        ] {
            assert_eq!(
                SpkiPin::parse_list(bad),
                Err(PinError(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}
