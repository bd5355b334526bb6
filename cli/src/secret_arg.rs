//! Secrets given to a command. A value on the command line is readable by every user of the
//! machine (`ps`, `/proc/<pid>/cmdline`) and stays in the shell's history: fine for the
//! published test keys, not for a production secret. So every secret flag `--x` has two
//! other sources: `--x-file PATH` (the file's text, without its final line break) and, for
//! most, an environment variable. The flag and its file cannot both be given; either one
//! wins over the variable. An empty variable counts as unset.

use std::path::Path;

use crate::failure::Failure;
use crate::files;

/// Where one secret may come from.
pub struct Sources<'a> {
    /// The flag's name without dashes, e.g. `secret`: `--secret` and `--secret-file`.
    pub flag: &'static str,
    pub value: Option<&'a str>,
    pub file: Option<&'a Path>,
    /// The environment variable, if this secret has one.
    pub env: Option<&'static str>,
}

impl Sources<'_> {
    /// The secret from the first source that has it, or `None`.
    pub fn optional(&self) -> Result<Option<String>, Failure> {
        let flag = self.flag;
        if let Some(value) = self.value {
            return match value.is_empty() {
                true => Err(Failure::input(format!("--{flag} is empty"))),
                false => Ok(Some(value.to_string())),
            };
        }
        if let Some(path) = self.file {
            let text = files::read_text(path, &format!("--{flag}-file"))?;
            let line = without_line_break(&text);
            if line.is_empty() {
                return Err(Failure::input(format!(
                    "--{flag}-file {} is empty",
                    path.display()
                )));
            }
            return Ok(Some(line.to_string()));
        }
        let Some(name) = self.env else {
            return Ok(None);
        };
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Some(value)),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Failure::input(format!("{name} is not UTF-8")))
            }
        }
    }

    /// The secret, which must be given one way or another.
    pub fn required(&self) -> Result<String, Failure> {
        self.optional()?.ok_or_else(|| {
            let flag = self.flag;
            let env = self.env.map(|name| format!(", {name}")).unwrap_or_default();
            Failure::input(format!(
                "--{flag}-file PATH{env} or --{flag} is required (--{flag} only for test keys: \
                 other users can read arguments)"
            ))
        })
    }
}

/// `text` without one final `\n` or `\r\n`: what `echo` and editors leave at the end of a
/// file. Other whitespace is kept; it may be part of the secret.
fn without_line_break(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_final_line_break_is_removed() {
        for (text, expected) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
            ("s3cret\n\n", "s3cret\n"),
            (" s3cret ", " s3cret "),
        ] {
            assert_eq!(without_line_break(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_file() {
        // The environment variable is checked through the binary (cli/tests/it/sign_verify.rs):
        // setting one here would race with other tests reading the environment.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let sources = |value, file| Sources {
            flag: "secret",
            value,
            file,
            env: None,
        };
        let got = |s: Sources| s.optional().unwrap();
        assert_eq!(
            got(sources(Some("from-flag"), Some(&path))).as_deref(),
            Some("from-flag")
        );
        assert_eq!(
            got(sources(None, Some(&path))).as_deref(),
            Some("from-file")
        );
        assert_eq!(got(sources(None, None)), None);
        let err = sources(None, None).required().unwrap_err().to_string();
        assert!(
            err.contains("--secret-file PATH or --secret is required"),
            "{err}"
        );

        std::fs::write(&path, "\n").unwrap();
        let err = sources(None, Some(&path)).optional().unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        let missing = dir.path().join("missing");
        assert!(sources(None, Some(&missing)).optional().is_err());
        assert!(sources(Some(""), None).optional().is_err());
    }
}
