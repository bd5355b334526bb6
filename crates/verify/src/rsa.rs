//! The one place RSA lives, so the backend can be swapped.
//!
//! Backend: aws-lc-rs (already in the AWS SDK's dependency tree; the `rsa` crate is about ten
//! times slower and has an open advisory). Only RSASSA-PKCS1-v1_5 with SHA-256 is offered,
//! because that is the only RSA scheme a provider uses (Knox, `SHA256withRSA`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaKeyPair, RsaParameters, RsaSubjectPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256,
};
use der::Decode as _;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// `rsaEncryption` (RFC 8017 A.1): the algorithm OID of every RSA SubjectPublicKeyInfo.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Moduli the verifier accepts, in bits (the range of `RSA_PKCS1_2048_8192_SHA256`): a smaller
/// key is refused when parsed rather than failing every verification later.
const MODULUS_BITS: std::ops::RangeInclusive<u32> = 2048..=8192;

#[derive(Debug, thiserror::Error)]
pub enum RsaError {
    #[error("public key is not a DER SubjectPublicKeyInfo: {0}")]
    NotSpki(der::Error),
    #[error("public key algorithm {oid} is not rsaEncryption; only RSA keys are supported")]
    NotRsa { oid: ObjectIdentifier },
    #[error("RSA public key rejected: {0}")]
    PublicKeyRejected(aws_lc_rs::error::KeyRejected),
    #[error("RSA modulus is {bits} bits; keys of 2048 to 8192 bits are supported")]
    ModulusSize { bits: u32 },
    #[error("private key is not PEM: {0}")]
    Pem(der::pem::Error),
    #[error("PEM block is labelled {label:?}; expected an unencrypted PKCS#8 \"PRIVATE KEY\"")]
    PemLabel { label: String },
    #[error("private key is not an RSA PKCS#8 key aws-lc accepts: {0}")]
    PrivateKeyRejected(aws_lc_rs::error::KeyRejected),
}

/// An RSA public key, parsed once and reused for every verification.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: ParsedPublicKey,
    modulus_len: usize,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("modulus_bits", &(self.modulus_len * 8))
            .finish_non_exhaustive()
    }
}

impl RsaPublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` holding an `rsaEncryption` key of 2048–8192 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, RsaError> {
        // aws-lc would also take a bare PKCS#1 key; insisting on SPKI with the RSA OID keeps
        // the accepted input exactly what a certificate carries.
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(RsaError::NotSpki)?;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(RsaError::NotRsa {
                oid: spki.algorithm.oid,
            });
        }
        let pkcs1 = RsaSubjectPublicKey::from_der(der).map_err(RsaError::PublicKeyRejected)?;
        let bits = RsaParameters::public_modulus_len(pkcs1.as_ref())
            .map_err(|_| RsaError::ModulusSize { bits: 0 })?;
        if !MODULUS_BITS.contains(&bits) {
            return Err(RsaError::ModulusSize { bits });
        }
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(RsaError::PublicKeyRejected)?;
        Ok(Self {
            key,
            // Java's `RSACore.getByteLength`: (bitLength + 7) / 8.
            modulus_len: bits.div_ceil(8) as usize,
        })
    }

    /// Length of the modulus in bytes: the only signature length that can verify.
    pub fn modulus_len(&self) -> usize {
        self.modulus_len
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (`SHA256withRSA`). A signature whose length differs from the
/// modulus length is false here; callers that must tell that case apart check
/// [`RsaPublicKey::modulus_len`] first.
pub fn verify_pkcs1_sha256(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    signature.len() == key.modulus_len && key.key.verify_sig(message, signature).is_ok()
}

/// An RSA private key for signing test callbacks and `hookwarden sign`. Production never signs.
pub struct RsaSigningKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("modulus_bits", &(self.pair.public_modulus_len() * 8))
            .finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    /// Reads an unencrypted PKCS#8 `-----BEGIN PRIVATE KEY-----` block (what
    /// `openssl genpkey -algorithm RSA` writes).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, RsaError> {
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(RsaError::Pem)?;
        if label != "PRIVATE KEY" {
            return Err(RsaError::PemLabel {
                label: label.to_owned(),
            });
        }
        Self::from_pkcs8_der(&der)
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, RsaError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(RsaError::PrivateKeyRejected)?;
        Ok(Self { pair })
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature, as long as the modulus.
    pub fn sign_pkcs1_sha256(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            // The buffer has the modulus length and PKCS#1 v1.5 padding takes no randomness,
            // so only an internal aws-lc failure can land here.
            .expect("aws-lc failed to produce an RSA PKCS#1 v1.5 signature");
        signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A fresh RSA-2048 key from the `openssl` CLI, so the key, its SPKI and every signature
    /// checked below come from an implementation independent of aws-lc-rs.
    struct OpensslKey {
        dir: tempfile::TempDir,
    }

    impl OpensslKey {
        fn generate(bits: u32) -> Self {
            let dir = tempfile::tempdir().unwrap();
            run_openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-out",
                dir.path().join("key.pem").to_str().unwrap(),
            ]);
            run_openssl(&[
                "pkey",
                "-in",
                dir.path().join("key.pem").to_str().unwrap(),
                "-pubout",
                "-outform",
                "DER",
                "-out",
                dir.path().join("pub.der").to_str().unwrap(),
            ]);
            Self { dir }
        }

        fn private_pem(&self) -> String {
            std::fs::read_to_string(self.dir.path().join("key.pem")).unwrap()
        }

        fn spki_der(&self) -> Vec<u8> {
            std::fs::read(self.dir.path().join("pub.der")).unwrap()
        }

        fn openssl_sign(&self, message: &[u8]) -> Vec<u8> {
            let input = self.dir.path().join("msg.bin");
            let output = self.dir.path().join("sig.bin");
            std::fs::write(&input, message).unwrap();
            run_openssl(&[
                "dgst",
                "-sha256",
                "-sign",
                self.dir.path().join("key.pem").to_str().unwrap(),
                "-out",
                output.to_str().unwrap(),
                input.to_str().unwrap(),
            ]);
            std::fs::read(output).unwrap()
        }

        fn openssl_verifies(&self, message: &[u8], signature: &[u8]) -> bool {
            let input = self.dir.path().join("msg.bin");
            let sig = self.dir.path().join("sig.bin");
            std::fs::write(&input, message).unwrap();
            std::fs::write(&sig, signature).unwrap();
            Command::new("openssl")
                .args(["dgst", "-sha256", "-keyform", "DER", "-verify"])
                .arg(self.dir.path().join("pub.der"))
                .arg("-signature")
                .arg(&sig)
                .arg(&input)
                .output()
                .expect("openssl CLI must be installed")
                .status
                .success()
        }
    }

    fn run_openssl(args: &[&str]) {
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

    #[test]
    fn verifies_openssl_signatures_and_openssl_verifies_ours() {
        let openssl = OpensslKey::generate(2048);
        let public = RsaPublicKey::from_spki_der(&openssl.spki_der()).unwrap();
        assert_eq!(public.modulus_len(), 256);
        let message = b"eyJhbGciOiJSUzI1NiJ9.e30=";

        let theirs = openssl.openssl_sign(message);
        assert!(verify_pkcs1_sha256(&public, message, &theirs));
        assert!(!verify_pkcs1_sha256(
            &public,
            b"eyJhbGciOiJSUzI1NiJ9.e30",
            &theirs
        ));

        let signer = RsaSigningKey::from_pkcs8_pem(&openssl.private_pem()).unwrap();
        let ours = signer.sign_pkcs1_sha256(message);
        assert_eq!(ours.len(), 256);
        assert!(openssl.openssl_verifies(message, &ours));
        assert!(!openssl.openssl_verifies(b"other", &ours));
        // PKCS#1 v1.5 is deterministic: both implementations produce the same bytes.
        assert_eq!(ours, theirs);
    }

    #[test]
    fn wrong_length_and_tampered_signatures_are_false() {
        let openssl = OpensslKey::generate(2048);
        let public = RsaPublicKey::from_spki_der(&openssl.spki_der()).unwrap();
        let message = b"message";
        let good = openssl.openssl_sign(message);
        assert!(!verify_pkcs1_sha256(&public, message, &good[..255]));
        let mut longer = vec![0];
        longer.extend_from_slice(&good);
        assert!(!verify_pkcs1_sha256(&public, message, &longer));
        let mut flipped = good.clone();
        flipped[100] ^= 1;
        assert!(!verify_pkcs1_sha256(&public, message, &flipped));
        assert!(!verify_pkcs1_sha256(&public, message, &[0; 256]));
        assert!(verify_pkcs1_sha256(&public, message, &good));
    }

    #[test]
    fn accepts_only_rsa_spki_of_supported_size() {
        let small = OpensslKey::generate(1024);
        assert!(matches!(
            RsaPublicKey::from_spki_der(&small.spki_der()),
            Err(RsaError::ModulusSize { bits: 1024 })
        ));

        let dir = tempfile::tempdir().unwrap();
        let ec_pem = dir.path().join("ec.pem");
        let ec_der = dir.path().join("ec.der");
        run_openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            ec_pem.to_str().unwrap(),
        ]);
        run_openssl(&[
            "pkey",
            "-in",
            ec_pem.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            ec_der.to_str().unwrap(),
        ]);
        assert!(matches!(
            RsaPublicKey::from_spki_der(&std::fs::read(ec_der).unwrap()),
            Err(RsaError::NotRsa { .. })
        ));
        assert!(matches!(
            RsaPublicKey::from_spki_der(b"\x30\x03\x02\x01\x01"),
            Err(RsaError::NotSpki(_))
        ));
        assert!(matches!(
            RsaSigningKey::from_pkcs8_pem(&small.private_pem().replace("PRIVATE", "PUBLIC")),
            Err(RsaError::PemLabel { .. })
        ));
        assert!(matches!(
            RsaSigningKey::from_pkcs8_pem("not pem"),
            Err(RsaError::Pem(_))
        ));
        // An EC private key is valid PKCS#8 but not RSA.
        assert!(matches!(
            RsaSigningKey::from_pkcs8_pem(&std::fs::read_to_string(ec_pem).unwrap()),
            Err(RsaError::PrivateKeyRejected(_))
        ));
    }

    #[test]
    fn bare_pkcs1_public_key_is_not_spki() {
        let openssl = OpensslKey::generate(2048);
        let pkcs1 = RsaSubjectPublicKey::from_der(&openssl.spki_der()).unwrap();
        assert!(matches!(
            RsaPublicKey::from_spki_der(pkcs1.as_ref()),
            Err(RsaError::NotSpki(_))
        ));
    }
}
