//! OneAccess callbacks end to end through the public API: requests built the way OneAccess
//! builds them, checked by `verify`, answered by `reply`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use hookwarden_verify::encoding::STANDARD;
use hookwarden_verify::oneaccess::{
    self, build_request, build_request_with, decrypt, reply, sign, sign_with, signed_content,
    CipherMode, Config, Encryption, MacAlgorithm, OneAccessError, DEFAULT_REPLAY_WINDOW_SECS,
    EVENT_TYPES,
};
use hookwarden_verify::reject::RejectKind;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

const NOW_MS: i64 = 1_795_000_000_000; // 2026-11-18
const WINDOW: u64 = DEFAULT_REPLAY_WINDOW_SECS;
const TOKEN: &str = "security-token-1";
const AUTH: Option<&str> = Some("Bearer security-token-1");
const NONCE: &str = "bqVHvThFGooCRjSf";
const USER: &str = r#"{"username":"zhang.san","name":"Zhang San","organizationId":"1000003","password":"P@ss&word1","disabled":false}"#;

fn config(encryption: Option<(&str, CipherMode)>) -> Config {
    Config {
        signature_key: Some(Zeroizing::new("signature-key-1234".into())),
        bearer_token: Zeroizing::new(TOKEN.into()),
        encryption: encryption.map(|(key, mode)| Encryption::new(key, mode).unwrap()),
        allow_unsigned: false,
    }
}

fn every_config() -> Vec<Config> {
    vec![
        config(None),
        config(Some(("0123456789abcdef", CipherMode::Gcm))),
        config(Some(("0123456789abcdef01234567", CipherMode::Gcm))),
        config(Some(("0123456789abcdef0123456789abcdef", CipherMode::Gcm))),
        config(Some(("0123456789abcdef", CipherMode::Ecb))),
        config(Some(("0123456789abcdef0123456789abcdef", CipherMode::Ecb))),
    ]
}

fn check(body: &str, configs: &[Config]) -> Result<oneaccess::Verified, OneAccessError> {
    oneaccess::verify(body.as_bytes(), AUTH, configs, NOW_MS, WINDOW)
}

/// A body with every field given explicitly, signed over exactly the strings passed.
fn body_with(timestamp_json: &str, timestamp_signed: &str, event_type: &str, data: &str) -> String {
    let signature = sign(
        "signature-key-1234",
        NONCE,
        timestamp_signed,
        event_type,
        data,
    );
    format!(
        r#"{{"nonce":"{NONCE}","timestamp":{timestamp_json},"eventType":{},"data":{},"signature":"{signature}"}}"#,
        json!(event_type),
        json!(data)
    )
}

#[test]
fn sign_then_verify_round_trips_in_every_mode() {
    for config in every_config() {
        for event_type in EVENT_TYPES {
            let body = build_request(event_type, USER, &config, NONCE, NOW_MS).unwrap();
            let verified = check(&body, std::slice::from_ref(&config)).unwrap();
            assert_eq!(verified.msg.as_str(), USER, "{config:?}");
            assert_eq!(verified.event_type, event_type);
            assert_eq!(verified.nonce, NONCE);
            assert_eq!(verified.timestamp, NOW_MS.to_string());
            assert_eq!(verified.config_index, 0);
            assert_eq!(verified.mac, Some(MacAlgorithm::HmacSha256));
            if config.encryption.is_some() {
                assert!(!body.contains("zhang.san"), "msg must travel encrypted");
            }
        }
    }
}

#[test]
fn the_request_body_has_the_documented_shape() {
    let body = build_request("CHECK_URL", "random string", &config(None), NONCE, NOW_MS).unwrap();
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        value["timestamp"],
        json!(NOW_MS),
        "timestamp is a JSON number"
    );
    assert_eq!(value["data"], "random string");
    let expected = sign(
        "signature-key-1234",
        NONCE,
        &NOW_MS.to_string(),
        "CHECK_URL",
        "random string",
    );
    assert_eq!(value["signature"], expected);
    assert_eq!(expected.len(), 44, "Base64 of 32 bytes, padded");
}

#[test]
fn a_message_containing_ampersands_survives() {
    let msg = "a&b&&c&";
    for config in every_config() {
        let body = build_request("CHECK_URL", msg, &config, NONCE, NOW_MS).unwrap();
        assert_eq!(check(&body, &[config]).unwrap().msg.as_str(), msg);
    }
}

#[test]
fn bearer_token_is_required_and_must_match() {
    let config = config(None);
    let body = build_request("CHECK_URL", "x", &config, NONCE, NOW_MS).unwrap();
    for authorization in [
        None,
        Some(""),
        Some("Basic c2VjdXJpdHk="),
        Some("security-token-1"),
    ] {
        let err = oneaccess::verify(
            body.as_bytes(),
            authorization,
            std::slice::from_ref(&config),
            NOW_MS,
            WINDOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, OneAccessError::MissingBearer),
            "{authorization:?}: {err}"
        );
        assert_eq!((err.kind(), err.return_code()), (RejectKind::Forged, 401));
    }
    for authorization in [
        "Bearer security-token-2",
        "Bearer security-token-1x",
        "Bearer security-token-",
    ] {
        let err = oneaccess::verify(
            body.as_bytes(),
            Some(authorization),
            std::slice::from_ref(&config),
            NOW_MS,
            WINDOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, OneAccessError::WrongBearer),
            "{authorization}: {err}"
        );
        assert_eq!(err.return_code(), 401);
    }
    // The scheme is case-insensitive.
    assert!(oneaccess::verify(
        body.as_bytes(),
        Some("bearer security-token-1"),
        &[config],
        NOW_MS,
        WINDOW
    )
    .is_ok());
}

#[test]
fn empty_signature_needs_allow_unsigned() {
    let mut unsigned = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    unsigned.signature_key = None;
    let body = build_request("CREATE_USER", USER, &unsigned, NONCE, NOW_MS).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["signature"],
        ""
    );

    // A config with a key, or without one, refuses it unless allowed.
    let mut strict = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    for config in [strict.clone(), unsigned.clone()] {
        let err = check(&body, &[config]).unwrap_err();
        assert!(matches!(err, OneAccessError::Unsigned), "{err}");
        assert_eq!(err.kind(), RejectKind::Forged);
    }
    unsigned.allow_unsigned = true;
    let verified = check(&body, &[unsigned.clone()]).unwrap();
    assert_eq!(verified.msg.as_str(), USER);
    assert_eq!(verified.mac, None, "accepted unsigned, so no MAC matched");
    // The content a signature would cover is still recorded: it is the event's identity.
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        verified.signed_content.as_slice(),
        format!(
            "{NONCE}&{NOW_MS}&CREATE_USER&{}",
            sent["data"].as_str().unwrap()
        )
        .as_bytes()
    );
    // allow_unsigned does not apply to a config holding a signature key: no downgrade.
    strict.allow_unsigned = true;
    assert!(matches!(
        check(&body, &[strict]).unwrap_err(),
        OneAccessError::Unsigned
    ));
    // Absent or null signature counts as empty.
    for replacement in [r#","signature":null}"#, "}"] {
        let edited = body.replace(r#","signature":""}"#, replacement);
        assert_ne!(edited, body);
        assert!(check(&edited, &[unsigned.clone()]).is_ok(), "{edited}");
    }

    // A signed request reaching a config that holds no key cannot be judged.
    let signed = build_request(
        "CREATE_USER",
        USER,
        &config(Some(("0123456789abcdef", CipherMode::Gcm))),
        NONCE,
        NOW_MS,
    )
    .unwrap();
    let err = check(&signed, &[unsigned]).unwrap_err();
    assert!(matches!(err, OneAccessError::NoSignatureKey), "{err}");
    assert_eq!(err.return_code(), 500);
}

/// Review finding A6: with a signature key configured, `allow_unsigned` must not let a
/// holder of the bearer token strip the signature and relabel the event (UPDATE_USER data
/// re-sent as DELETE_USER).
#[test]
fn a_stripped_signature_is_refused_whenever_a_key_is_configured() {
    for encryption in [None, Some(("0123456789abcdef", CipherMode::Gcm))] {
        let mut config = config(encryption);
        let body = build_request("UPDATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
        let mut stripped: Value = serde_json::from_str(&body).unwrap();
        stripped["signature"] = json!("");
        stripped["eventType"] = json!("DELETE_USER");
        let stripped = stripped.to_string();
        for allow_unsigned in [false, true] {
            config.allow_unsigned = allow_unsigned;
            let err = check(&stripped, std::slice::from_ref(&config)).unwrap_err();
            assert!(matches!(err, OneAccessError::Unsigned), "{err}");
            assert_eq!((err.kind(), err.return_code()), (RejectKind::Forged, 401));
        }
        // And the secret parser refuses the combination outright.
        let secret = json!({
            "bearer_token": TOKEN,
            "signature_key": "signature-key-1234",
            "encryption_key": encryption.map(|(key, _)| key),
            "allow_unsigned": true,
        });
        assert!(Config::from_secret_json(&secret.to_string()).is_err());
    }
}

/// ECB without a signature authenticates nothing: refused even by a config built in code.
#[test]
fn ecb_without_a_signature_is_refused() {
    let mut config = config(Some(("0123456789abcdef", CipherMode::Ecb)));
    config.signature_key = None;
    config.allow_unsigned = true;
    let body = build_request("CREATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
    let err = check(&body, &[config]).unwrap_err();
    assert!(matches!(err, OneAccessError::Unsigned), "{err}");
    let secret = r#"{"bearer_token":"t","encryption_key":"0123456789abcdef","encryption_mode":"ecb","allow_unsigned":true}"#;
    assert!(Config::from_secret_json(secret).is_err());
}

/// Review finding A8: moving the first `&` of `data` into `eventType` keeps the signed
/// string, and so the signature; such an eventType (or a nonce with `&`) is refused before
/// any MAC is computed.
#[test]
fn an_ampersand_in_event_type_or_nonce_is_refused() {
    let data = r#"{"username":"rd.admin","name":"R&D","password":"x"}"#;
    let genuine = body_with(
        &NOW_MS.to_string(),
        &NOW_MS.to_string(),
        "UPDATE_USER",
        data,
    );
    assert!(check(&genuine, &[config(None)]).is_ok());
    let signature = serde_json::from_str::<Value>(&genuine).unwrap()["signature"].clone();
    let (head, tail) = data.split_once('&').unwrap();
    let shifted = json!({
        "nonce": NONCE,
        "timestamp": NOW_MS,
        "eventType": format!("UPDATE_USER&{head}"),
        "data": tail,
        "signature": signature,
    })
    .to_string();
    // The signed strings are the same: the MAC alone cannot tell them apart.
    assert_eq!(
        signed_content(
            NONCE,
            &NOW_MS.to_string(),
            &format!("UPDATE_USER&{head}"),
            tail
        )
        .as_slice(),
        signed_content(NONCE, &NOW_MS.to_string(), "UPDATE_USER", data).as_slice(),
    );
    let err = check(&shifted, &[config(None)]).unwrap_err();
    assert!(
        matches!(err, OneAccessError::AmbiguousField("eventType")),
        "{err}"
    );
    assert_eq!(
        (err.kind(), err.return_code()),
        (RejectKind::Malformed, 400)
    );

    // A nonce with `&`, however signed, and building one, are refused too.
    let signature = sign(
        "signature-key-1234",
        "a&b",
        &NOW_MS.to_string(),
        "CHECK_URL",
        "x",
    );
    let body = json!({"nonce": "a&b", "timestamp": NOW_MS, "eventType": "CHECK_URL", "data": "x", "signature": signature}).to_string();
    assert!(matches!(
        check(&body, &[config(None)]).unwrap_err(),
        OneAccessError::AmbiguousField("nonce")
    ));
    for (event_type, nonce) in [("CREATE_USER&x", NONCE), ("CREATE_USER", "a&b")] {
        assert!(matches!(
            build_request(event_type, USER, &config(None), nonce, NOW_MS),
            Err(OneAccessError::AmbiguousField(_))
        ));
    }
}

#[test]
fn timestamp_sent_as_a_string_is_signed_verbatim() {
    let ts = NOW_MS.to_string();
    let body = body_with(
        &format!("\"{ts}\""),
        &ts,
        "DELETE_USER",
        r#"{"id":"c3a26dd3"}"#,
    );
    let verified = check(&body, &[config(None)]).unwrap();
    assert_eq!(verified.timestamp, ts);
    assert_eq!(verified.event_type, "DELETE_USER");
}

#[test]
fn event_type_is_signed_untrimmed_and_routed_trimmed() {
    // The guide's UPDATE_ORGANIZATION example carries a trailing space.
    let ts = NOW_MS.to_string();
    let body = body_with(
        &ts,
        &ts,
        "UPDATE_ORGANIZATION ",
        r#"{"id":"6c5b","code":"1000003"}"#,
    );
    let verified = check(&body, &[config(None)]).unwrap();
    assert_eq!(verified.event_type, "UPDATE_ORGANIZATION");
    let answer: Value = serde_json::from_str(&reply(&verified, &config(None)).unwrap()).unwrap();
    assert_eq!(answer["data"], r#"{"id":"6c5b"}"#);

    // Signed over the trimmed value, it does not verify.
    let signature = sign(
        "signature-key-1234",
        NONCE,
        &ts,
        "UPDATE_ORGANIZATION",
        "{}",
    );
    let body = format!(
        r#"{{"nonce":"{NONCE}","timestamp":{ts},"eventType":"UPDATE_ORGANIZATION ","data":"{{}}","signature":"{signature}"}}"#
    );
    assert!(matches!(
        check(&body, &[config(None)]),
        Err(OneAccessError::BadSignature)
    ));
}

#[test]
fn json_escapes_are_decoded_before_signing() {
    // The sender signs its strings; the wire may escape them any way JSON allows.
    let ts = NOW_MS.to_string();
    let data = "{\"name\":\"Zürich/Genève\"}";
    let signature = sign(
        "signature-key-1234",
        NONCE,
        &ts,
        "CREATE_ORGANIZATION",
        data,
    );
    let body = format!(
        r#"{{"nonce":"\u0062qVHvThFGooCRjSf","timestamp":{ts},"eventType":"CREATE_ORGANIZATION","data":"{{\"name\":\"Z\u00fcrich\/Gen\u00e8ve\"}}","signature":"{signature}"}}"#
    );
    assert_eq!(check(&body, &[config(None)]).unwrap().msg.as_str(), data);
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let config = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    let window_ms = WINDOW as i64 * 1000;
    for (ts, ok) in [
        (NOW_MS - window_ms, true),
        (NOW_MS + window_ms, true),
        (NOW_MS - window_ms - 1, false),
        (NOW_MS + window_ms + 1, false),
        (NOW_MS - 86_400_000, false),
    ] {
        let body = build_request("CHECK_URL", "x", &config, NONCE, ts).unwrap();
        match check(&body, std::slice::from_ref(&config)) {
            Ok(_) => assert!(ok, "{ts} accepted"),
            Err(err) => {
                assert!(!ok, "{ts}: {err}");
                assert!(matches!(err, OneAccessError::Stale { .. }), "{err}");
                assert_eq!((err.kind(), err.return_code()), (RejectKind::Stale, 401));
            }
        }
    }
    // A forged stale request is reported as forged, not stale.
    let body = build_request("CHECK_URL", "x", &config, NONCE, NOW_MS - 86_400_000).unwrap();
    let err = oneaccess::verify(
        body.as_bytes(),
        Some("Bearer nope"),
        &[config],
        NOW_MS,
        WINDOW,
    )
    .unwrap_err();
    assert_eq!(err.kind(), RejectKind::Forged);
}

#[test]
fn ten_digit_timestamps_are_seconds() {
    let config = config(None);
    let now_s = NOW_MS / 1000;
    for (sent, ok) in [
        (now_s, true),
        (now_s - 300, true),
        (now_s - 301, false),
        (now_s + 301, false),
    ] {
        let ts = sent.to_string();
        assert_eq!(ts.len(), 10);
        let body = body_with(&ts, &ts, "CHECK_URL", "x");
        assert_eq!(
            check(&body, std::slice::from_ref(&config)).is_ok(),
            ok,
            "{ts}"
        );
    }
    // The digit count decides: padded to 13 digits, the same seconds read as milliseconds are
    // January 1970, so stale. (Leading zeros are only legal in a string timestamp.)
    let padded = format!("000{now_s}");
    let body = body_with(&format!("\"{padded}\""), &padded, "CHECK_URL", "x");
    let err = check(&body, &[config]).unwrap_err();
    assert!(matches!(err, OneAccessError::Stale { .. }), "{err}");
}

#[test]
fn rotation_tries_each_config_in_order() {
    let current = Config {
        signature_key: Some(Zeroizing::new("new-signature-key".into())),
        bearer_token: Zeroizing::new("new-token".into()),
        encryption: Some(Encryption::new("fedcba9876543210", CipherMode::Gcm).unwrap()),
        allow_unsigned: false,
    };
    let previous = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    let body = build_request("CREATE_USER", USER, &previous, NONCE, NOW_MS).unwrap();
    let configs = [current.clone(), previous.clone()];
    let verified = check(&body, &configs).unwrap();
    assert_eq!(verified.config_index, 1);
    assert_eq!(verified.msg.as_str(), USER);

    // Only the encryption key rotated: the signature matches both, the data only the second.
    let mut new_key_only = previous.clone();
    new_key_only.encryption = Some(Encryption::new("fedcba9876543210", CipherMode::Gcm).unwrap());
    assert_eq!(
        check(&body, &[new_key_only.clone(), previous])
            .unwrap()
            .config_index,
        1
    );

    // Neither fits: the most advanced failure is reported.
    let err = check(&body, &[current, new_key_only]).unwrap_err();
    assert!(matches!(err, OneAccessError::Undecryptable), "{err}");
    assert_eq!(err.kind(), RejectKind::Forged);
    assert!(matches!(check(&body, &[]), Err(OneAccessError::NoConfig)));
}

#[test]
fn a_wrong_signature_key_or_tampered_field_is_forged() {
    let config = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    let body = build_request("CREATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
    let mut other = config.clone();
    other.signature_key = Some(Zeroizing::new("signature-key-1235".into()));
    assert!(matches!(
        check(&body, &[other]),
        Err(OneAccessError::BadSignature)
    ));
    let tampered = body.replace(NONCE, "AmgjjEAJbrMzWmUw");
    assert!(matches!(
        check(&tampered, std::slice::from_ref(&config)),
        Err(OneAccessError::BadSignature)
    ));
    // A signature in another Base64 spelling is not what OneAccess sends.
    let value: Value = serde_json::from_str(&body).unwrap();
    let signature = value["signature"].as_str().unwrap();
    let unpadded = body.replace(signature, signature.trim_end_matches('='));
    assert!(matches!(
        check(&unpadded, &[config]),
        Err(OneAccessError::BadSignature)
    ));
}

#[test]
fn check_url_reply_round_trips() {
    for config in every_config() {
        let body = build_request("CHECK_URL", "random string 42", &config, NONCE, NOW_MS).unwrap();
        let verified = check(&body, std::slice::from_ref(&config)).unwrap();
        let answer: Value = serde_json::from_str(&reply(&verified, &config).unwrap()).unwrap();
        assert_eq!(answer["code"], "200");
        assert_eq!(answer["message"], "success");
        let data = answer["data"].as_str().unwrap();
        let echoed = match &config.encryption {
            Some(encryption) => {
                // Re-encrypted, not the request's ciphertext sent back.
                let sent: Value = serde_json::from_str(&body).unwrap();
                assert_ne!(sent["data"], data);
                decrypt(data, encryption).unwrap().to_string()
            }
            None => data.to_string(),
        };
        assert_eq!(echoed, "random string 42");
    }
}

#[test]
fn create_user_reply_returns_the_username_as_id() {
    let config = config(Some(("0123456789abcdef0123456789abcdef", CipherMode::Gcm)));
    let body = build_request("CREATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
    let verified = check(&body, std::slice::from_ref(&config)).unwrap();
    assert!(!format!("{verified:?}").contains("P@ss"));
    let answer: Value = serde_json::from_str(&reply(&verified, &config).unwrap()).unwrap();
    let data = decrypt(
        answer["data"].as_str().unwrap(),
        config.encryption.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"id": "zhang.san"})
    );
    // The same event again gets the same id.
    let again =
        build_request("CREATE_USER", USER, &config, "AAAAAAAAAAAAAAAA", NOW_MS + 1).unwrap();
    let verified = check(&again, std::slice::from_ref(&config)).unwrap();
    let answer: Value = serde_json::from_str(&reply(&verified, &config).unwrap()).unwrap();
    let data = decrypt(
        answer["data"].as_str().unwrap(),
        config.encryption.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"id": "zhang.san"})
    );
}

#[test]
fn secret_json_drives_verification() {
    let secret = r#"{"bearer_token":"security-token-1","signature_key":"signature-key-1234","encryption_key":"0123456789abcdef01234567","encryption_mode":"gcm","allow_unsigned":false}"#;
    let config = Config::from_secret_json(secret).unwrap();
    let body = build_request(
        "CREATE_ORGANIZATION",
        r#"{"code":"1000003","name":"Wuhan branch"}"#,
        &config,
        NONCE,
        NOW_MS,
    )
    .unwrap();
    assert_eq!(
        check(&body, &[config]).unwrap().event_type,
        "CREATE_ORGANIZATION"
    );
}

const SIGNATURE_KEY: &str = "signature-key-1234";

/// The body `build_request` makes, with `signature` replaced by the Base64 of `mac`.
fn with_signature_bytes(body: &str, mac: &[u8]) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap();
    value["signature"] = json!(STANDARD.encode(mac));
    serde_json::to_string(&value).unwrap()
}

/// The raw MAC bytes of a body's signature.
fn signature_bytes(body: &str) -> Vec<u8> {
    let value: Value = serde_json::from_str(body).unwrap();
    STANDARD
        .decode(value["signature"].as_str().unwrap())
        .unwrap()
}

#[test]
fn hmac_sha1_signed_callbacks_verify_in_every_mode() {
    for config in every_config() {
        for event_type in EVENT_TYPES {
            let body = build_request_with(
                MacAlgorithm::HmacSha1,
                event_type,
                USER,
                &config,
                NONCE,
                NOW_MS,
            )
            .unwrap();
            assert_eq!(signature_bytes(&body).len(), 20, "HMAC-SHA1 size");
            let verified = check(&body, std::slice::from_ref(&config)).unwrap();
            assert_eq!(verified.mac, Some(MacAlgorithm::HmacSha1), "{config:?}");
            assert_eq!(verified.mac.unwrap().as_str(), "hmac-sha1");
            assert_eq!(verified.msg.as_str(), USER, "{config:?}");
            assert_eq!(verified.event_type, event_type);
        }
    }
}

#[test]
fn the_matching_algorithm_is_reported() {
    let config = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    for mac in MacAlgorithm::ALL {
        let body = build_request_with(mac, "CREATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
        assert_eq!(signature_bytes(&body).len(), mac.output_len());
        let verified = check(&body, std::slice::from_ref(&config)).unwrap();
        assert_eq!(verified.mac, Some(mac));
    }
    // build_request and sign stay HMAC-SHA256.
    let body = build_request("CREATE_USER", USER, &config, NONCE, NOW_MS).unwrap();
    let verified = check(&body, &[config]).unwrap();
    assert_eq!(verified.mac, Some(MacAlgorithm::HmacSha256));
    assert_eq!(verified.mac.unwrap().as_str(), "hmac-sha256");
    assert_eq!(
        sign(SIGNATURE_KEY, NONCE, "1", "CHECK_URL", "x"),
        sign_with(
            MacAlgorithm::HmacSha256,
            SIGNATURE_KEY,
            NONCE,
            "1",
            "CHECK_URL",
            "x"
        )
    );
}

#[test]
fn sign_with_is_plain_hmac_over_the_ampersand_joined_fields() {
    let content = b"n&1&CHECK_URL&a&b";
    let sha1 = {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SIGNATURE_KEY.as_bytes()).unwrap();
        mac.update(content);
        STANDARD.encode(mac.finalize().into_bytes())
    };
    let sha256 = {
        let mut mac = Hmac::<Sha256>::new_from_slice(SIGNATURE_KEY.as_bytes()).unwrap();
        mac.update(content);
        STANDARD.encode(mac.finalize().into_bytes())
    };
    for (mac, expected) in [
        (MacAlgorithm::HmacSha1, sha1),
        (MacAlgorithm::HmacSha256, sha256),
    ] {
        assert_eq!(
            sign_with(mac, SIGNATURE_KEY, "n", "1", "CHECK_URL", "a&b"),
            expected
        );
    }
    assert_eq!(
        signed_content("n", "1", "CHECK_URL", "a&b").as_slice(),
        content
    );
}

#[test]
fn a_wrong_twenty_byte_signature_is_forged() {
    let config = config(Some(("0123456789abcdef", CipherMode::Gcm)));
    let body = build_request_with(
        MacAlgorithm::HmacSha1,
        "CREATE_USER",
        USER,
        &config,
        NONCE,
        NOW_MS,
    )
    .unwrap();
    let good = signature_bytes(&body);
    let mut candidates = vec![[0u8; 20].to_vec(), [0xffu8; 20].to_vec()];
    for bit in [0, 7, 80, 159] {
        let mut flipped = good.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        candidates.push(flipped);
    }
    for claimed in candidates {
        let err = check(
            &with_signature_bytes(&body, &claimed),
            std::slice::from_ref(&config),
        )
        .unwrap_err();
        assert!(matches!(err, OneAccessError::BadSignature), "{err}");
        assert_eq!((err.kind(), err.return_code()), (RejectKind::Forged, 401));
    }
    assert!(check(&with_signature_bytes(&body, &good), &[config]).is_ok());
}

#[test]
fn an_hmac_sha1_under_another_key_is_forged() {
    let config = config(None);
    let mut other = config.clone();
    other.signature_key = Some(Zeroizing::new("signature-key-1235".into()));
    let body = build_request_with(
        MacAlgorithm::HmacSha1,
        "CREATE_USER",
        USER,
        &other,
        NONCE,
        NOW_MS,
    )
    .unwrap();
    let err = check(&body, std::slice::from_ref(&config)).unwrap_err();
    assert!(matches!(err, OneAccessError::BadSignature), "{err}");
    assert_eq!(err.kind(), RejectKind::Forged);
    // Tampering with a signed field breaks it as it does HMAC-SHA256.
    let body = build_request_with(
        MacAlgorithm::HmacSha1,
        "CREATE_USER",
        USER,
        &config,
        NONCE,
        NOW_MS,
    )
    .unwrap();
    let tampered = body.replace(NONCE, "AmgjjEAJbrMzWmUw");
    assert!(matches!(
        check(&tampered, std::slice::from_ref(&config)),
        Err(OneAccessError::BadSignature)
    ));
    // Rotation: the previous key's HMAC-SHA1 still matches, on the second config.
    let verified = check(&body, &[other, config]).unwrap();
    assert_eq!(
        (verified.config_index, verified.mac),
        (1, Some(MacAlgorithm::HmacSha1))
    );
}

#[test]
fn macs_of_other_lengths_are_forged() {
    let config = config(None);
    let body =
        |mac| build_request_with(mac, "CHECK_URL", "random", &config, NONCE, NOW_MS).unwrap();
    let sha1_body = body(MacAlgorithm::HmacSha1);
    let sha1 = signature_bytes(&sha1_body);
    let sha256 = signature_bytes(&body(MacAlgorithm::HmacSha256));
    let mut claims = Vec::new();
    // HMAC-SHA1 truncated, or extended by zeros, by its own bytes, or by HMAC-SHA256's.
    // (Zero bytes is an empty signature: `Unsigned`, tested above.)
    for len in (1..20).chain(21..=64) {
        let zeros: Vec<u8> = sha1
            .iter()
            .copied()
            .chain(std::iter::repeat(0))
            .take(len)
            .collect();
        let cycled: Vec<u8> = sha1.iter().copied().cycle().take(len).collect();
        claims.extend([zeros, cycled]);
        if len > 20 {
            let mut mixed = sha1.clone();
            mixed.extend(sha256.iter().copied().cycle().take(len - 20));
            claims.push(mixed);
        }
    }
    // HMAC-SHA256 truncated to the HMAC-SHA1 size, and HMAC-SHA1 padded to the SHA-256 size.
    claims.push(sha256[..20].to_vec());
    claims.push(sha256[12..].to_vec());
    claims.push([sha1.as_slice(), &[0; 12]].concat());
    claims.push([&[0; 12], sha1.as_slice()].concat());
    for claimed in claims {
        let edited = with_signature_bytes(&sha1_body, &claimed);
        let err = check(&edited, std::slice::from_ref(&config)).unwrap_err();
        assert!(
            matches!(err, OneAccessError::BadSignature),
            "{} bytes: {err}",
            claimed.len()
        );
        assert_eq!((err.kind(), err.return_code()), (RejectKind::Forged, 401));
    }
}

#[test]
fn signed_content_is_exactly_what_was_maced() {
    // Untrimmed eventType, JSON escapes decoded, ciphertext when encrypted.
    let ts = NOW_MS.to_string();
    let data = "{\"name\":\"Zürich\"}";
    for mac in MacAlgorithm::ALL {
        let signature = sign_with(mac, SIGNATURE_KEY, NONCE, &ts, "UPDATE_ORGANIZATION ", data);
        let body = format!(
            r#"{{"nonce":"{NONCE}","timestamp":"{ts}","eventType":"UPDATE_ORGANIZATION ","data":"{{\"name\":\"Z\u00fcrich\"}}","signature":"{signature}"}}"#
        );
        let verified = check(&body, &[config(None)]).unwrap();
        let expected = format!("{NONCE}&{ts}&UPDATE_ORGANIZATION &{data}");
        assert_eq!(verified.signed_content.as_slice(), expected.as_bytes());
        // The identity is keyed (review R1): HMAC-SHA256 under the signature key, whichever
        // MAC the sender used, and never the bare SHA-256 that would confirm a password.
        let keyed = Hmac::<Sha256>::new_from_slice(SIGNATURE_KEY.as_bytes())
            .unwrap()
            .chain_update(expected.as_bytes())
            .finalize()
            .into_bytes();
        assert_eq!(verified.identity, <[u8; 32]>::from(keyed));
        assert_ne!(
            verified.identity,
            <[u8; 32]>::from(Sha256::digest(expected.as_bytes()))
        );
        assert_eq!(
            signed_content(NONCE, &ts, "UPDATE_ORGANIZATION ", data).as_slice(),
            expected.as_bytes()
        );
    }
    for config in every_config() {
        let body = build_request_with(
            MacAlgorithm::HmacSha1,
            "CREATE_USER",
            USER,
            &config,
            NONCE,
            NOW_MS,
        )
        .unwrap();
        let sent: Value = serde_json::from_str(&body).unwrap();
        let verified = check(&body, std::slice::from_ref(&config)).unwrap();
        let data = sent["data"].as_str().unwrap();
        assert_eq!(
            verified.signed_content.as_slice(),
            format!("{NONCE}&{NOW_MS}&CREATE_USER&{data}").as_bytes()
        );
        // Content in clear (no encryption) is never printed.
        assert!(!format!("{verified:?}").contains("zhang.san"));
    }
}

#[test]
fn the_guides_example_signature_is_read_as_hmac_sha1() {
    // "Verifying Callback URL" carries this 20-byte signature; its key is not published, so
    // under ours it can only be refused, but as a wrong MAC, not as a malformed one.
    let example = "K08yDiTEc094KoccOY+VYLQFxxQ=";
    assert_eq!(
        MacAlgorithm::from_output_len(STANDARD.decode(example).unwrap().len()),
        Some(MacAlgorithm::HmacSha1)
    );
    let body = build_request("CHECK_URL", "random", &config(None), NONCE, NOW_MS).unwrap();
    let mut value: Value = serde_json::from_str(&body).unwrap();
    value["signature"] = json!(example);
    let err = check(&value.to_string(), &[config(None)]).unwrap_err();
    assert!(matches!(err, OneAccessError::BadSignature), "{err}");
}

#[test]
fn an_unsigned_callback_is_identified_under_the_bearer_token() {
    // No signature key to key the identity with: the bearer token, the secret that
    // authenticated the callback, keys it instead.
    let unsigned = Config {
        signature_key: None,
        allow_unsigned: true,
        ..config(None)
    };
    let body = build_request("CREATE_USER", USER, &unsigned, NONCE, NOW_MS).unwrap();
    let verified = check(&body, std::slice::from_ref(&unsigned)).unwrap();
    assert_eq!(verified.mac, None);
    let keyed = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes())
        .unwrap()
        .chain_update(verified.signed_content.as_slice())
        .finalize()
        .into_bytes();
    assert_eq!(verified.identity, <[u8; 32]>::from(keyed));
}
