//! What an attacker without the keys can try against OneAccess callbacks: change any byte of
//! the body, any signed field, or the ciphertext (even re-signed). All must be refused, while
//! any message survives a round trip.

use base64::Engine as _;
use hookwarden_verify::encoding::STANDARD;
use hookwarden_verify::oneaccess::{
    self, build_request, build_request_with, sign, CipherMode, Config, Encryption, MacAlgorithm,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use zeroize::Zeroizing;

const NOW_MS: i64 = 1_795_000_000_000;
const AUTH: Option<&str> = Some("Bearer token-1");
const KEY: &str = "signature-key-1234";
const MSG: &str = r#"{"username":"zhang.san","password":"P@ss&word1","disabled":false}"#;

fn configs() -> Vec<Config> {
    let modes = [
        None,
        Some(("0123456789abcdef", CipherMode::Gcm)),
        Some(("0123456789abcdef01234567", CipherMode::Gcm)),
        Some(("0123456789abcdef0123456789abcdef", CipherMode::Gcm)),
        Some(("0123456789abcdef01234567", CipherMode::Ecb)),
    ];
    modes
        .into_iter()
        .map(|encryption| Config {
            signature_key: Some(Zeroizing::new(KEY.into())),
            bearer_token: Zeroizing::new("token-1".into()),
            encryption: encryption.map(|(key, mode)| Encryption::new(key, mode).unwrap()),
            allow_unsigned: false,
        })
        .collect()
}

fn verify(body: &[u8], config: &Config) -> bool {
    oneaccess::verify(body, AUTH, std::slice::from_ref(config), NOW_MS, 300).is_ok()
}

const FIELDS: [&str; 5] = ["nonce", "timestamp", "eventType", "data", "signature"];

/// Either HMAC OneAccess may sign with.
fn mac_algorithm() -> impl Strategy<Value = MacAlgorithm> {
    prop::sample::select(MacAlgorithm::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_flipped_body_byte_is_refused(
        which in 0usize..5,
        mac in mac_algorithm(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let config = &configs()[which];
        let body = build_request_with(mac, "CREATE_USER", MSG, config, "bqVHvThFGooCRjSf", NOW_MS).unwrap();
        prop_assert!(verify(body.as_bytes(), config));
        let mut flipped = body.into_bytes();
        let i = at.index(flipped.len());
        flipped[i] ^= mask;
        prop_assert!(!verify(&flipped, config), "byte {} ^ {:#x} accepted", i, mask);
    }

    #[test]
    fn any_flipped_byte_in_a_signed_field_is_refused(
        which in 0usize..5,
        mac in mac_algorithm(),
        field in 0usize..5,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=127,
    ) {
        let config = &configs()[which];
        let body = build_request_with(mac, "UPDATE_USER", MSG, config, "bqVHvThFGooCRjSf", NOW_MS).unwrap();
        let mut value: Value = serde_json::from_str(&body).unwrap();
        let name = FIELDS[field];
        let text = match &value[name] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= mask; // ASCII stays ASCII, so still a string
        let changed = String::from_utf8(bytes).unwrap();
        // A changed timestamp stays a number when it still is one.
        value[name] = match (name, changed.parse::<u64>()) {
            ("timestamp", Ok(number)) if !changed.starts_with('0') => json!(number),
            _ => json!(changed),
        };
        let edited = serde_json::to_string(&value).unwrap();
        prop_assert!(!verify(edited.as_bytes(), config), "{} byte {} ^ {:#x} accepted", name, i, mask);
    }

    #[test]
    fn gcm_ciphertext_changed_and_re_signed_is_refused(
        which in 1usize..4,
        unsigned in any::<bool>(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        // Someone holding the signature key (or facing allow_unsigned) still cannot alter
        // GCM data: the tag catches every changed byte, IV and tag included.
        let mut config = configs()[which].clone();
        if unsigned {
            // Signing off: no signature key (with one, an empty signature is refused).
            config.allow_unsigned = true;
            config.signature_key = None;
        }
        let body = build_request("CREATE_USER", MSG, &config, "bqVHvThFGooCRjSf", NOW_MS).unwrap();
        let mut value: Value = serde_json::from_str(&body).unwrap();
        let mut wire = STANDARD.decode(value["data"].as_str().unwrap()).unwrap();
        let i = at.index(wire.len());
        wire[i] ^= mask;
        let data = STANDARD.encode(&wire);
        value["signature"] = json!(match unsigned {
            true => String::new(),
            false => sign(KEY, "bqVHvThFGooCRjSf", &NOW_MS.to_string(), "CREATE_USER", &data),
        });
        value["data"] = json!(data);
        let edited = serde_json::to_string(&value).unwrap();
        let err = oneaccess::verify(edited.as_bytes(), AUTH, &[config], NOW_MS, 300).unwrap_err();
        prop_assert!(matches!(err, oneaccess::OneAccessError::Undecryptable), "{}", err);
    }

    #[test]
    fn any_message_round_trips(
        which in 0usize..5,
        mac in mac_algorithm(),
        msg in any::<String>(),
        event in 0usize..7,
    ) {
        let config = &configs()[which];
        let event_type = oneaccess::EVENT_TYPES[event];
        let body = build_request_with(mac, event_type, &msg, config, "bqVHvThFGooCRjSf", NOW_MS).unwrap();
        let verified = oneaccess::verify(body.as_bytes(), AUTH, std::slice::from_ref(config), NOW_MS, 300).unwrap();
        prop_assert_eq!(verified.msg.as_str(), msg.as_str());
        prop_assert_eq!(verified.event_type.as_str(), event_type);
        prop_assert_eq!(verified.mac, Some(mac));
    }
}
