//! The bodies OneAccess expects back (oneaccess_06_0121, 06_0123, 06_0131..0136, 06_0014).
//!
//! OneAccess stores the `id` a create or update reply carries as the record's id in our system
//! and sends it back on later updates and deletes, so the id must be stable: we derive it from
//! the record's own unique key (organization `code`, user `username`), so a redelivered or
//! replayed create gets the same answer.
//!
//! Every authenticated callback gets a success. A record without its key (a console mapping
//! that renames or drops it, a message that is not JSON) is still authentic: refusing it would
//! lose it (OneAccess records a failed synchronization and the event is gone), and answering
//! 5xx after storing it would make every redelivery a failure. Its id is then the event's own
//! identity, which is as stable as the callback (the same content gets the same id) and
//! unique to it. Nothing here can make a forgery pass: the reply is built only for a callback
//! that verified.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{encrypt, Config, OneAccessError, Verified};

/// OneAccess's limit on a returned id (`String(50)`).
const MAX_ID_CHARS: usize = 50;

#[derive(Serialize)]
struct Answer<'a> {
    /// A string, not a number, in every documented example.
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

/// The only fields of a record hookwarden reads; everything else, the password of a
/// CREATE_USER included, is skipped without being copied.
#[derive(Deserialize)]
struct RecordKeys {
    id: Option<serde_json::Value>,
    code: Option<serde_json::Value>,
    username: Option<serde_json::Value>,
}

/// What answering an event type needs from its msg: the field the id is derived from, and
/// whether an `id` already sent by OneAccess takes precedence.
fn id_source(event_type: &str) -> Option<(&'static str, bool)> {
    match event_type {
        "CREATE_ORGANIZATION" => Some(("code", false)),
        "UPDATE_ORGANIZATION" => Some(("code", true)),
        "CREATE_USER" => Some(("username", false)),
        "UPDATE_USER" => Some(("username", true)),
        _ => None,
    }
}

/// The record's key itself when it fits OneAccess's 50 characters, else 50 hex digits of its
/// SHA-256 (200 bits: still unique in practice).
fn stable_id(key: &str) -> String {
    if key.chars().count() <= MAX_ID_CHARS {
        key.to_string()
    } else {
        let mut digest = hex::encode(Sha256::digest(key.as_bytes()));
        digest.truncate(MAX_ID_CHARS);
        digest
    }
}

/// The id to return for a record: the id OneAccess already sent (updates), else the record's
/// key, else the event's identity (its first 50 hex digits).
fn record_id(verified: &Verified, field: &'static str, prefer_sent_id: bool) -> String {
    let keys: Option<RecordKeys> = serde_json::from_str(&verified.msg).ok();
    let text = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_string)
    };
    let sent = keys
        .as_ref()
        .filter(|_| prefer_sent_id)
        .and_then(|keys| text(keys.id.as_ref()));
    let key = keys.as_ref().and_then(|keys| match field {
        "code" => text(keys.code.as_ref()),
        _ => text(keys.username.as_ref()),
    });
    sent.or_else(|| key.map(|key| stable_id(&key)))
        .unwrap_or_else(|| {
            let mut id = hex::encode(verified.identity);
            id.truncate(MAX_ID_CHARS);
            id
        })
}

/// The success body for a verified event: CHECK_URL echoes its random string, creates and
/// updates return `{"id": …}`, deletes and unknown types a bare success. `data` is encrypted
/// whenever `config` has encryption on; without it, it is the plain string (a JSON text for
/// `{"id"}`, since the field is documented as a String). It fails only when encryption
/// fails, which a configuration that decrypted the request does not.
pub fn reply(verified: &Verified, config: &Config) -> Result<String, OneAccessError> {
    let data = match verified.event_type.as_str() {
        "CHECK_URL" => Some(verified.msg.clone()),
        event_type => match id_source(event_type) {
            Some((field, prefer_sent_id)) => {
                let id = record_id(verified, field, prefer_sent_id);
                Some(Zeroizing::new(serde_json::json!({ "id": id }).to_string()))
            }
            None => None,
        },
    };
    let data = match (data, &config.encryption) {
        (Some(data), Some(encryption)) => Some(encrypt(&data, encryption)?),
        (Some(data), None) => Some(data.to_string()),
        (None, _) => None,
    };
    let answer = Answer {
        code: "200",
        message: "success",
        data,
    };
    Ok(serde_json::to_string(&answer).expect("strings always serialize"))
}

/// The error body for one of OneAccess's return codes (06_0014), to be sent with the same HTTP
/// status: OneAccess shows `code` and `message` in the application's synchronization record.
pub fn error_reply(code: u16) -> String {
    let message = match code {
        400 => "invalid request: a parameter is missing, empty, too long or badly formatted",
        401 => "API authentication failed",
        404 => "record does not exist",
        500 => "system busy, try again later",
        _ => "request failed",
    };
    let answer = Answer {
        code: &code.to_string(),
        message,
        data: None,
    };
    serde_json::to_string(&answer).expect("strings always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oneaccess::{decrypt, CipherMode, Encryption};
    use serde_json::{json, Value};

    fn verified(event_type: &str, msg: &str) -> Verified {
        Verified {
            nonce: "n".into(),
            timestamp: "1".into(),
            event_type: event_type.into(),
            msg: Zeroizing::new(msg.into()),
            config_index: 0,
            mac: None,
            signed_content: Zeroizing::new(Vec::new()),
            identity: [0xab; 32],
        }
    }

    fn plain() -> Config {
        Config {
            signature_key: Some(Zeroizing::new("k".into())),
            bearer_token: Zeroizing::new("t".into()),
            encryption: None,
            allow_unsigned: false,
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn check_url_echoes_the_random_string() {
        let answer = parse(&reply(&verified("CHECK_URL", "random string"), &plain()).unwrap());
        assert_eq!(
            answer,
            json!({"code": "200", "message": "success", "data": "random string"})
        );
    }

    #[test]
    fn creates_return_the_record_key_as_id() {
        let org = r#"{"code":"1000003","name":"Wuhan branch","parentId":"5b183439-36a8-4d08-94ba-61b3c8d40b66"}"#;
        let answer = parse(&reply(&verified("CREATE_ORGANIZATION", org), &plain()).unwrap());
        assert_eq!(answer["code"], "200");
        assert_eq!(
            parse(answer["data"].as_str().unwrap()),
            json!({"id": "1000003"})
        );
        let user = r#"{"username":"zhang.san","password":"secret","disabled":false}"#;
        let answer = parse(&reply(&verified("CREATE_USER", user), &plain()).unwrap());
        assert_eq!(
            parse(answer["data"].as_str().unwrap()),
            json!({"id": "zhang.san"})
        );
    }

    #[test]
    fn updates_keep_the_id_oneaccess_sent() {
        let msg = r#"{"id":"6c5bb468-14b2-4183-baf2-06d523e03bd3","code":"1000003","name":"x"}"#;
        let answer = parse(&reply(&verified("UPDATE_ORGANIZATION", msg), &plain()).unwrap());
        assert_eq!(
            parse(answer["data"].as_str().unwrap()),
            json!({"id": "6c5bb468-14b2-4183-baf2-06d523e03bd3"})
        );
        let answer = parse(
            &reply(
                &verified("UPDATE_USER", r#"{"username":"li.si"}"#),
                &plain(),
            )
            .unwrap(),
        );
        assert_eq!(
            parse(answer["data"].as_str().unwrap()),
            json!({"id": "li.si"})
        );
    }

    #[test]
    fn long_keys_become_50_hex_digits() {
        let long = "u".repeat(51);
        let msg = json!({ "username": long }).to_string();
        let answer = parse(&reply(&verified("CREATE_USER", &msg), &plain()).unwrap());
        let id = parse(answer["data"].as_str().unwrap())["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Python: hashlib.sha256(b"u" * 51).hexdigest()[:50]
        let expected = &hex::encode(Sha256::digest(long.as_bytes()))[..50];
        assert_eq!(id, expected);
        assert_eq!(stable_id(&"u".repeat(50)), "u".repeat(50));
    }

    #[test]
    fn deletes_and_unknown_types_get_a_bare_success() {
        for event_type in ["DELETE_USER", "DELETE_ORGANIZATION", "SOMETHING_NEW"] {
            let answer = parse(&reply(&verified(event_type, r#"{"id":"x"}"#), &plain()).unwrap());
            assert_eq!(answer, json!({"code": "200", "message": "success"}));
        }
    }

    #[test]
    fn records_without_their_key_get_the_events_identity_as_id() {
        // Authentic whatever their shape: a success, never a refusal or an error.
        for (event_type, msg) in [
            ("CREATE_ORGANIZATION", r#"{"name":"x"}"#),
            ("CREATE_USER", r#"{"username":""}"#),
            ("CREATE_USER", r#"{"userName":"li.si","password":"p"}"#),
            ("UPDATE_USER", r#"{"id":7}"#),
            ("CREATE_USER", "not json"),
            ("CREATE_USER", "[1]"),
        ] {
            let answer = parse(&reply(&verified(event_type, msg), &plain()).unwrap());
            assert_eq!(answer["code"], "200", "{msg}");
            assert_eq!(
                parse(answer["data"].as_str().unwrap()),
                json!({ "id": "ab".repeat(25) }),
                "{msg}"
            );
        }
    }

    #[test]
    fn data_is_encrypted_when_encryption_is_on() {
        let mut config = plain();
        let encryption = Encryption::new("0123456789abcdef", CipherMode::Gcm).unwrap();
        config.encryption = Some(encryption.clone());
        let answer =
            parse(&reply(&verified("CREATE_USER", r#"{"username":"a"}"#), &config).unwrap());
        let data = decrypt(answer["data"].as_str().unwrap(), &encryption).unwrap();
        assert_eq!(parse(&data), json!({"id": "a"}));
    }

    #[test]
    fn error_replies_carry_the_code_as_a_string() {
        for code in [400u16, 401, 404, 500] {
            let answer = parse(&error_reply(code));
            assert_eq!(answer["code"], code.to_string());
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(answer.get("data").is_none());
        }
    }
}
