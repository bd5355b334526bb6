//! `hookwarden events regenerate`: rebuild the sample function URL events under `events/`
//! from the hand-written bodies in `events/bodies/` and the test keys in `events/test-keys/`.
//!
//! Every value a sample carries besides its body (trace ids, nonces, request ids, times,
//! source addresses) is derived from the sample's name, so regenerating gives identical
//! files — except encrypted OneAccess samples, whose AES-GCM IV and 16-letter prefix are
//! random by design, and samples built with `--fresh`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use hookwarden_verify::oneaccess::Config;
use hookwarden_verify::{knox, scalefusion};

use crate::failure::Failure;
use crate::function_url::{Form, Request};
use crate::sign::{now_ms, oneaccess_request};
use crate::test_keys::TestKeys;
use crate::{files, ids};

/// 2026-11-23T08:00:00Z: the day the samples were "received"; each sample adds an offset
/// derived from its name.
const BASE_EPOCH_MS: i64 = 1_795_420_800_000;
const DAY_MS: u32 = 86_400_000;
/// How long before its arrival a OneAccess callback was stamped.
const SEND_DELAY_MS: i64 = 40;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rebuild every sample event under DIR: DIR/knox/<EVENT>.json, DIR/scalefusion/<event>.json,
    /// DIR/oneaccess/{plain,encrypted}/<EVENT>.json, each also as <name>.base64.json (the form
    /// a function URL delivers when the Content-Type is missing), from DIR/bodies/<provider>/
    /// and DIR/test-keys/. Samples whose body is gone are removed.
    Regenerate {
        #[arg(long, value_name = "DIR", default_value = "events")]
        dir: PathBuf,
        /// Give OneAccess samples the current time and new nonces, so they pass the replay
        /// window (300 s by default) when replayed with `sam local invoke`.
        #[arg(long)]
        fresh: bool,
    },
}

/// Where a provider's requests come from, as the function URL would record it. The user
/// agents are plausible placeholders: no provider documents its own.
struct Origin {
    /// The function URL's id (`https://<id>.lambda-url.us-east-1.on.aws`), one per provider.
    url_id: &'static str,
    user_agent: &'static str,
    /// A documentation range (RFC 5737), so no sample points at a real host.
    ip_prefix: &'static str,
}

const KNOX: Origin = Origin {
    url_id: "k7x3q9vz2m4tqhd6w8ljp5c1rb0nfyse",
    user_agent: "Apache-HttpClient/4.5.14 (Java/17.0.12)",
    ip_prefix: "203.0.113.",
};
const SCALEFUSION: Origin = Origin {
    url_id: "s2f8m1qk7z4xv9dn3wpt6hy0cjbrlgau",
    user_agent: "Faraday v2.9.0",
    ip_prefix: "198.51.100.",
};
const ONEACCESS: Origin = Origin {
    url_id: "o5a9n2e7k3c8zq1vx4dm6tw0hbjyrfls",
    user_agent: "Apache-HttpClient/4.5.13 (Java/1.8.0_392)",
    ip_prefix: "192.0.2.",
};

pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Regenerate { dir, fresh } => regenerate(&dir, fresh),
    }
}

fn regenerate(dir: &Path, fresh: bool) -> Result<(), Failure> {
    let keys = TestKeys::from_dir(&dir.join("test-keys"))?;
    let mut writer = Writer::default();

    for (name, body) in bodies(&dir.join("bodies/knox"), &["json"])? {
        let seed = format!("knox/{name}");
        let signature = knox::sign(&body, &keys.knox_key)
            .map_err(|err| Failure::input(format!("bodies/knox/{name}: {err}")))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        knox::verify(
            &body,
            &signature,
            std::slice::from_ref(&keys.knox_certificate),
            now,
        )
        .map_err(|err| {
            Failure::input(format!(
                "test-keys: the certificate does not verify what the key signs ({err})"
            ))
        })?;
        let headers = vec![
            (knox::SIGNATURE_HEADER.to_ascii_lowercase(), signature),
            (
                knox::TRACE_ID_HEADER.to_ascii_lowercase(),
                ids::uuid(&ids::derived(&format!("{seed}/trace"))),
            ),
            (
                knox::NONCE_HEADER.to_ascii_lowercase(),
                ids::uuid(&ids::derived(&format!("{seed}/nonce"))),
            ),
        ];
        let request = request(&KNOX, &seed, &body, headers, derived_time(&seed));
        writer.write_both(&dir.join("knox"), &name, &request)?;
    }

    for (name, body) in bodies(&dir.join("bodies/scalefusion"), &["json"])? {
        let seed = format!("scalefusion/{name}");
        let headers = vec![(
            scalefusion::SIGNATURE_HEADER.to_ascii_lowercase(),
            scalefusion::sign(keys.scalefusion_secret.as_bytes(), &body),
        )];
        let request = request(&SCALEFUSION, &seed, &body, headers, derived_time(&seed));
        writer.write_both(&dir.join("scalefusion"), &name, &request)?;
    }

    let modes: [(&str, &Config); 2] = [
        ("plain", &keys.oneaccess_plain),
        ("encrypted", &keys.oneaccess_encrypted),
    ];
    for (event_type, msg) in bodies(&dir.join("bodies/oneaccess"), &["json", "txt"])? {
        let msg = String::from_utf8(msg)
            .map_err(|_| Failure::input(format!("bodies/oneaccess/{event_type} is not UTF-8")))?;
        for (mode, config) in modes {
            let seed = format!("oneaccess/{mode}/{event_type}");
            let (nonce, timestamp) = match fresh {
                true => (ids::letters(&ids::random(), 16), now_ms()),
                false => (
                    ids::letters(&ids::derived(&format!("{seed}/nonce")), 16),
                    derived_time(&seed),
                ),
            };
            let body = oneaccess_request(&event_type, &msg, config, &nonce, timestamp)?;
            let headers = vec![(
                "authorization".to_string(),
                format!("Bearer {}", config.bearer_token.as_str()),
            )];
            let request = request(
                &ONEACCESS,
                &seed,
                body.as_bytes(),
                headers,
                timestamp + SEND_DELAY_MS,
            );
            writer.write_both(&dir.join("oneaccess").join(mode), &event_type, &request)?;
        }
    }

    let removed = writer.remove_stale()?;
    println!(
        "hookwarden events: wrote {} sample files under {}{}",
        writer.written.len(),
        dir.display(),
        match removed {
            0 => String::new(),
            n => format!(", removed {n} without a body"),
        }
    );
    Ok(())
}

/// The files in `dir` with one of `extensions`, by name: (file stem, bytes).
fn bodies(dir: &Path, extensions: &[&str]) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| Failure::input(format!("cannot list {}: {err}", dir.display())))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|err| Failure::input(format!("cannot list {}: {err}", dir.display())))?
            .path();
        if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string);
            let name = name
                .ok_or_else(|| Failure::input(format!("{} has no UTF-8 name", path.display())))?;
            Ok((name, files::read_bytes(&path, "body file")?))
        })
        .collect()
}

fn derived_time(seed: &str) -> i64 {
    let bytes = ids::derived(&format!("{seed}/time"));
    let offset = u32::from_be_bytes(bytes[..4].try_into().expect("4 of 32 bytes")) % DAY_MS;
    BASE_EPOCH_MS + i64::from(offset)
}

fn request<'a>(
    origin: &Origin,
    seed: &str,
    body: &'a [u8],
    headers: Vec<(String, String)>,
    time_epoch_ms: i64,
) -> Request<'a> {
    let host = ids::derived(&format!("{seed}/source"))[0] % 254 + 1;
    Request {
        url_id: origin.url_id,
        request_id: ids::uuid(&ids::derived(&format!("{seed}/request"))),
        time_epoch_ms,
        source_ip: format!("{}{host}", origin.ip_prefix),
        user_agent: origin.user_agent,
        amzn_trace_id: format!(
            "Root=1-{:08x}-{}",
            time_epoch_ms / 1000,
            ids::hex_digits(&ids::derived(&format!("{seed}/xray")), 24)
        ),
        headers,
        body,
    }
}

/// Writes samples and remembers what it wrote, so samples whose body is gone can be removed.
#[derive(Default)]
struct Writer {
    written: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Writer {
    fn write_both(&mut self, dir: &Path, name: &str, request: &Request) -> Result<(), Failure> {
        for (form, file) in [
            (Form::Text, format!("{name}.json")),
            (Form::Base64, format!("{name}.base64.json")),
        ] {
            let path = dir.join(file);
            let mut text = serde_json::to_string_pretty(&request.event(form)?)
                .expect("a JSON value serializes");
            text.push('\n');
            files::write(&path, text.as_bytes())?;
            self.written.insert(path);
        }
        self.dirs.insert(dir.to_path_buf());
        Ok(())
    }

    fn remove_stale(&self) -> Result<usize, Failure> {
        let mut removed = 0;
        for dir in &self.dirs {
            let entries = std::fs::read_dir(dir)
                .map_err(|err| Failure::input(format!("cannot list {}: {err}", dir.display())))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "json") && !self.written.contains(&path) {
                    std::fs::remove_file(&path).map_err(|err| {
                        Failure::input(format!("cannot remove {}: {err}", path.display()))
                    })?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
