//! Fixtures of the Knox suites: test anchors (RSA keys and self-signed certificates made by
//! rcgen, an X.509 writer independent of the x509-cert parser under test) and the bodies
//! several suites sign.

use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::x509::KnoxCertificate;

/// 2026-01-01T00:00:00Z (`date -u -d 2026-01-01 +%s`): "now" for every Knox test.
pub const NOW: i64 = 1_767_225_600;

/// A Knox validation certificate and the private key behind it.
pub struct TestAnchor {
    pub signing_key: RsaSigningKey,
    pub certificate: KnoxCertificate,
    pub certificate_pem: String,
    pub certificate_der: Vec<u8>,
    pub private_key_der: Vec<u8>,
}

/// An RSA anchor valid from `not_before` to `not_after` (years, Jan 1st 00:00 UTC).
pub fn anchor_valid(bits: u32, not_before: i32, not_after: i32) -> TestAnchor {
    let size = match bits {
        2048 => rcgen::RsaKeySize::_2048,
        3072 => rcgen::RsaKeySize::_3072,
        4096 => rcgen::RsaKeySize::_4096,
        other => panic!("no rcgen RSA size {other}"),
    };
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size).unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["knox-validation.test".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(not_before, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let private_key_der = key.serialize_der();
    TestAnchor {
        signing_key: RsaSigningKey::from_pkcs8_der(&private_key_der).unwrap(),
        certificate: KnoxCertificate::parse(cert.der()).unwrap(),
        certificate_pem: cert.pem(),
        certificate_der: cert.der().to_vec(),
        private_key_der,
    }
}

/// A fresh RSA-2048 anchor valid 2025–2027, around [`NOW`].
pub fn anchor() -> TestAnchor {
    anchor_valid(2048, 2025, 2027)
}

/// One [`anchor`] shared by the tests of this binary: RSA key generation is the slow part.
pub fn shared_anchor() -> &'static TestAnchor {
    static ANCHOR: std::sync::OnceLock<TestAnchor> = std::sync::OnceLock::new();
    ANCHOR.get_or_init(anchor)
}

/// A KAI battery event, the test vector of protocols.md §5.1 (its canonical form and signing
/// input are in `knox_verify`).
pub const VECTOR_BODY: &str = r#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.70E12,"ratio":1.10,"note":"a/b\u001f"}}"#;

/// Pretty-printed, keys in another order than Jackson prints them: not canonical.
pub const PRETTY_BODY: &str = "{\n  \"event\": \"KG_DEVICE_LOCKED\",\n  \"subscriptionId\": \"sub-01\",\n  \"payload\": {\"imei\": \"356938035643809\", \"ratio\": 1.10}\n}\n";
