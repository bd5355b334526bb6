//! Reading and writing the files commands are given, with errors that name the file and what
//! it was for. Bodies are read as bytes and never re-encoded: signatures cover exact bytes.

use std::path::Path;

use crate::failure::Failure;

/// The bytes of `path`; `what` says what the file was for ("body file", "certificate").
pub fn read_bytes(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|err| Failure::input(format!("cannot read {what} {}: {err}", path.display())))
}

/// The text of `path`, which must be UTF-8.
pub fn read_text(path: &Path, what: &str) -> Result<String, Failure> {
    String::from_utf8(read_bytes(path, what)?)
        .map_err(|_| Failure::input(format!("{what} {} is not UTF-8 text", path.display())))
}

/// Writes `contents` to `path`, creating its directory.
pub fn write(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let fail =
        |err: std::io::Error| Failure::input(format!("cannot write {}: {err}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, contents).map_err(fail)
}
