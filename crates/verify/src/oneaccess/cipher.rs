//! The AES layer of OneAccess's `data` field (oneaccess_06_0122, "plaintext encryption").
//!
//! Plaintext = 16 random ASCII letters + `&` + msg. Key = the configured encryption key's UTF-8
//! bytes used directly, so 16, 24 or 32 bytes select AES-128/192/256.
//!
//! GCM: Huawei's sample lets the JDK pick a random 12-byte IV and prints only ciphertext ‖ tag,
//! which nobody could decrypt, so the IV must travel with it; where is unpublished. We read
//! Base64(IV ‖ ct ‖ tag) first, then Base64(ct ‖ tag ‖ IV). Trying both is safe because the GCM
//! tag fails for the wrong split. We write the first form.
//!
//! ECB (PKCS#5 padding) is what Bamboo Cloud, on which OneAccess is built, also documents, and
//! the length of OneAccess's own CHECK_URL example fits it. It is only used when configured:
//! it authenticates nothing, so falling back to it would let a tamperer pick the weaker mode.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Nonce};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use base64::Engine as _;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockCipher, BlockDecryptMut, BlockEncryptMut};
use rand::rngs::OsRng;
use rand::{Rng as _, RngCore as _};
use zeroize::Zeroizing;

use super::OneAccessError;
use crate::encoding::{decode_lenient, STANDARD};

type Aes192Gcm = AesGcm<Aes192, U12>;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// `RandomStringUtils.random(16, true, false)`: the letters before the `&`.
const PREFIX_LEN: usize = 16;
/// Sealing fails only for a key of another size (checked by `key_bytes`) or GCM input over
/// 64 GiB.
const SEAL_CANNOT_FAIL: &str = "AES key length checked and input far below the GCM limit";
const LETTERS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How `data` is encrypted: the console's algorithm setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherMode {
    /// AES/GCM/NoPadding, Huawei's documented and recommended mode.
    Gcm,
    /// AES/ECB/PKCS5Padding, for tenants configured with it.
    Ecb,
}

/// The encryption key and mode of one OneAccess application.
#[derive(Clone)]
pub struct Encryption {
    pub key: Zeroizing<String>,
    pub mode: CipherMode,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("key", &format_args!("[{} bytes, redacted]", self.key.len()))
            .field("mode", &self.mode)
            .finish()
    }
}

impl Encryption {
    /// Checks that `key` is 16, 24 or 32 bytes long, as Java's `SecretKeySpec` for AES needs.
    pub fn new(key: &str, mode: CipherMode) -> Result<Self, OneAccessError> {
        let encryption = Self {
            key: Zeroizing::new(key.to_string()),
            mode,
        };
        encryption.key_bytes()?;
        Ok(encryption)
    }

    fn key_bytes(&self) -> Result<&[u8], OneAccessError> {
        let key = self.key.as_bytes();
        match key.len() {
            16 | 24 | 32 => Ok(key),
            len => Err(OneAccessError::KeyLength(len)),
        }
    }
}

/// Seals (`seal`) or opens `input` with AES-GCM under the key's size.
fn gcm(key: &[u8], iv: &[u8], input: &[u8], seal: bool) -> Option<Vec<u8>> {
    fn run<C: Aead + KeyInit>(key: &[u8], iv: &[u8], input: &[u8], seal: bool) -> Option<Vec<u8>> {
        let cipher = C::new_from_slice(key).ok()?;
        let nonce = Nonce::<C>::from_slice(iv);
        if seal {
            cipher.encrypt(nonce, input).ok()
        } else {
            cipher.decrypt(nonce, input).ok()
        }
    }
    match key.len() {
        16 => run::<Aes128Gcm>(key, iv, input, seal),
        24 => run::<Aes192Gcm>(key, iv, input, seal),
        _ => run::<Aes256Gcm>(key, iv, input, seal),
    }
}

/// Encrypts (`seal`) or decrypts `input` with AES-ECB and PKCS#7 (= Java's PKCS5Padding).
fn ecb(key: &[u8], input: &[u8], seal: bool) -> Option<Vec<u8>> {
    fn run<C>(key: &[u8], input: &[u8], seal: bool) -> Option<Vec<u8>>
    where
        C: BlockCipher + BlockEncryptMut + BlockDecryptMut + KeyInit,
    {
        if seal {
            let cipher = ecb::Encryptor::<C>::new_from_slice(key).ok()?;
            Some(cipher.encrypt_padded_vec_mut::<Pkcs7>(input))
        } else {
            let cipher = ecb::Decryptor::<C>::new_from_slice(key).ok()?;
            cipher.decrypt_padded_vec_mut::<Pkcs7>(input).ok()
        }
    }
    match key.len() {
        16 => run::<Aes128>(key, input, seal),
        24 => run::<Aes192>(key, input, seal),
        _ => run::<Aes256>(key, input, seal),
    }
}

/// Encrypts `msg` as OneAccess would: fresh random letters, and for GCM a fresh IV, each call.
pub fn encrypt(msg: &str, encryption: &Encryption) -> Result<String, OneAccessError> {
    let key = encryption.key_bytes()?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(PREFIX_LEN + 1 + msg.len()));
    plaintext.extend((0..PREFIX_LEN).map(|_| LETTERS[OsRng.gen_range(0..LETTERS.len())]));
    plaintext.push(b'&');
    plaintext.extend_from_slice(msg.as_bytes());
    let wire = match encryption.mode {
        CipherMode::Gcm => {
            let mut iv = [0u8; IV_LEN];
            OsRng.fill_bytes(&mut iv);
            let sealed = gcm(key, &iv, &plaintext, true).expect(SEAL_CANNOT_FAIL);
            [&iv[..], &sealed].concat()
        }
        CipherMode::Ecb => ecb(key, &plaintext, true).expect(SEAL_CANNOT_FAIL),
    };
    Ok(STANDARD.encode(wire))
}

/// Opens GCM data in either IV layout.
fn open_gcm(key: &[u8], wire: &[u8]) -> Option<Vec<u8>> {
    if wire.len() < IV_LEN + TAG_LEN {
        return None;
    }
    let (iv, sealed) = wire.split_at(IV_LEN);
    gcm(key, iv, sealed, false).or_else(|| {
        let (sealed, iv) = wire.split_at(wire.len() - IV_LEN);
        gcm(key, iv, sealed, false)
    })
}

/// Decrypts `data` and returns msg, the part after the 16 letters and the `&` (msg may contain
/// `&` itself).
pub fn decrypt(data: &str, encryption: &Encryption) -> Result<Zeroizing<String>, OneAccessError> {
    let key = encryption.key_bytes()?;
    // Java's decoder takes standard Base64 with or without padding; URL-safe is accepted too
    // because the bytes are authenticated (GCM) or signed (ECB) anyway.
    let wire = decode_lenient(data).ok_or(OneAccessError::Undecryptable)?;
    let opened = match encryption.mode {
        CipherMode::Gcm => open_gcm(key, &wire),
        CipherMode::Ecb => ecb(key, &wire, false),
    };
    let plaintext = Zeroizing::new(opened.ok_or(OneAccessError::Undecryptable)?);
    let text = std::str::from_utf8(&plaintext).map_err(|_| OneAccessError::PlaintextLayout)?;
    if text.as_bytes().get(PREFIX_LEN) != Some(&b'&') {
        return Err(OneAccessError::PlaintextLayout);
    }
    Ok(Zeroizing::new(text[PREFIX_LEN + 1..].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::RejectKind;

    // protocols.md §5.4, produced with the JDK (SunJCE) and cross-checked with Python.
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const PLAINTEXT: &[u8] = b"AbCdEfGhIjKlMnOp&random string";
    const GCM_CT_TAG: &str = "bIf4GJx+lcThtjrSPKGedMB6YulY0xmrU6jJ3dZCF19n9nC2kcPuSIOplY9S7g==";
    const GCM_IV_CT_TAG: &str =
        "AAECAwQFBgcICQoLbIf4GJx+lcThtjrSPKGedMB6YulY0xmrU6jJ3dZCF19n9nC2kcPuSIOplY9S7g==";
    const ECB_CT: &str = "3EM7GJvHMKiiaSDXaWzIJpRL93rsVWsU5yI+EBHBbTA=";
    const IV: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    fn gcm_key() -> Encryption {
        Encryption::new(KEY, CipherMode::Gcm).unwrap()
    }

    #[test]
    fn primitives_match_the_jdk_vectors() {
        let sealed = gcm(KEY.as_bytes(), &IV, PLAINTEXT, true).unwrap();
        assert_eq!(STANDARD.encode(&sealed), GCM_CT_TAG);
        assert_eq!(
            STANDARD.encode(ecb(KEY.as_bytes(), PLAINTEXT, true).unwrap()),
            ECB_CT
        );
    }

    #[test]
    fn decrypts_the_jdk_vectors_in_both_iv_layouts() {
        assert_eq!(
            decrypt(GCM_IV_CT_TAG, &gcm_key()).unwrap().as_str(),
            "random string"
        );
        let ct_tag = STANDARD.decode(GCM_CT_TAG).unwrap();
        let suffixed = STANDARD.encode([&ct_tag[..], &IV].concat());
        assert_eq!(
            decrypt(&suffixed, &gcm_key()).unwrap().as_str(),
            "random string"
        );
        let ecb_key = Encryption::new(KEY, CipherMode::Ecb).unwrap();
        assert_eq!(decrypt(ECB_CT, &ecb_key).unwrap().as_str(), "random string");
    }

    #[test]
    fn the_bare_documented_output_cannot_be_decrypted() {
        // ct ‖ tag without its IV, as Huawei's sample prints it: neither layout authenticates.
        assert!(matches!(
            decrypt(GCM_CT_TAG, &gcm_key()),
            Err(OneAccessError::Undecryptable)
        ));
    }

    #[test]
    fn round_trips_every_key_size_and_mode() {
        let msg = r#"{"name":"a&b","password":"p&ss"}"#;
        for key in ["0123456789abcdef", "0123456789abcdef01234567", KEY] {
            for mode in [CipherMode::Gcm, CipherMode::Ecb] {
                let encryption = Encryption::new(key, mode).unwrap();
                let data = encrypt(msg, &encryption).unwrap();
                assert_eq!(
                    decrypt(&data, &encryption).unwrap().as_str(),
                    msg,
                    "{mode:?} {}",
                    key.len()
                );
                // Prefix and IV are fresh each time.
                assert_ne!(encrypt(msg, &encryption).unwrap(), data);
            }
        }
    }

    #[test]
    fn gcm_output_is_iv_then_ciphertext_then_tag_and_the_prefix_is_letters() {
        let data = encrypt("x", &gcm_key()).unwrap();
        let wire = STANDARD.decode(data).unwrap();
        assert_eq!(wire.len(), IV_LEN + PREFIX_LEN + 2 + TAG_LEN);
        let plaintext = gcm(KEY.as_bytes(), &wire[..IV_LEN], &wire[IV_LEN..], false).unwrap();
        assert!(plaintext[..PREFIX_LEN].iter().all(u8::is_ascii_alphabetic));
        assert_eq!(&plaintext[PREFIX_LEN..], b"&x");
    }

    #[test]
    fn wrong_key_mode_or_layout_is_refused() {
        let other = Encryption::new("fedcba9876543210fedcba9876543210", CipherMode::Gcm).unwrap();
        let err = decrypt(GCM_IV_CT_TAG, &other).unwrap_err();
        assert_eq!(err.kind(), RejectKind::Forged);
        let ecb_key = Encryption::new(KEY, CipherMode::Ecb).unwrap();
        assert!(decrypt(GCM_IV_CT_TAG, &ecb_key).is_err());
        assert!(decrypt(ECB_CT, &gcm_key()).is_err());
        assert!(decrypt("not base64!", &gcm_key()).is_err());
        assert!(decrypt("", &gcm_key()).is_err());
    }

    #[test]
    fn plaintext_without_the_prefix_is_refused() {
        for plaintext in [
            &b"short&msg"[..],
            b"AbCdEfGhIjKlMnOpXrandom",
            b"AbCdEfGhIjKlMnOp",
        ] {
            let sealed = gcm(KEY.as_bytes(), &IV, plaintext, true).unwrap();
            let data = STANDARD.encode([&IV[..], &sealed].concat());
            let err = decrypt(&data, &gcm_key()).unwrap_err();
            assert!(matches!(err, OneAccessError::PlaintextLayout), "{err}");
        }
    }

    #[test]
    fn key_lengths_follow_java() {
        for len in [0, 15, 20, 33] {
            let key = "k".repeat(len);
            assert!(matches!(
                Encryption::new(&key, CipherMode::Gcm),
                Err(OneAccessError::KeyLength(l)) if l == len
            ));
        }
        // Length counts UTF-8 bytes, as `getBytes(UTF_8)` does: 8 two-byte letters = 16 bytes.
        assert!(Encryption::new(&"é".repeat(8), CipherMode::Gcm).is_ok());
        assert!(!format!("{:?}", gcm_key()).contains(KEY));
    }
}
