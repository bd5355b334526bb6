//! docs/reference/configuration.md read back: the variables its tables list, so a test can hold
//! each function's settings to the page (a variable read but not listed, or listed but not
//! read, fails it).

use std::collections::{BTreeMap, BTreeSet};

/// The page, from the repository root.
pub const PAGE: &str = "docs/reference/configuration.md";

/// The header of every table of settings on the page.
const HEADER: &str = "| Variable | Default | Range | Meaning |";

/// The page's `## ` sections and, for each, the variables (first cell, in backticks) of the
/// settings tables in it, in order and with repeats, so a test can tell a row written twice.
pub fn tables() -> BTreeMap<String, Vec<String>> {
    parse(&page())
}

fn page() -> String {
    std::fs::read_to_string(crate::samples::repo_root().join(PAGE))
        .unwrap_or_else(|err| panic!("{PAGE}: {err}"))
}

fn parse(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections = BTreeMap::new();
    let (mut section, mut in_table) = (String::new(), false);
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.trim().to_string();
        }
        if line.trim() == HEADER {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if in_table && !line.starts_with("|---") {
            let first = line.split('|').nth(1).unwrap_or_default().trim();
            let name = first
                .strip_prefix('`')
                .and_then(|rest| rest.strip_suffix('`'))
                .unwrap_or_else(|| panic!("{PAGE}: a row's first cell is not `NAME`: {line}"));
            let rows: &mut Vec<String> = sections.entry(section.clone()).or_default();
            rows.push(name.to_string());
        }
    }
    sections
}

/// The variables the page's section whose title starts with `title` lists.
pub fn variables_in(title: &str) -> Vec<String> {
    let tables = tables();
    let found: Vec<&Vec<String>> = tables
        .iter()
        .filter(|(section, _)| section.starts_with(title))
        .map(|(_, rows)| rows)
        .collect();
    match found.as_slice() {
        [rows] => rows.to_vec(),
        _ => panic!(
            "{PAGE}: expected one section starting {title:?} with a settings table, found {}: {:?}",
            found.len(),
            tables.keys()
        ),
    }
}

/// Fails, naming what differs, unless the section whose title starts with `title` has one
/// row for each variable in `read` and none for another.
pub fn assert_lists_exactly<'a>(title: &str, read: impl IntoIterator<Item = &'a str>) {
    let rows = variables_in(title);
    let listed: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(
        listed.len(),
        rows.len(),
        "a variable has two rows: {rows:?}"
    );
    let read: BTreeSet<&str> = read.into_iter().collect();
    let unlisted: Vec<_> = read.difference(&listed).collect();
    let unread: Vec<_> = listed.difference(&read).collect();
    assert!(unlisted.is_empty(), "read but not in {PAGE}: {unlisted:?}");
    assert!(unread.is_empty(), "in {PAGE} but not read: {unread:?}");
}

/// The names in backticks in the page's section "Read by the runtime and the SDK": read by
/// the code only to check them, set by Lambda or read by the SDK.
pub fn runtime_and_sdk_variables() -> Vec<String> {
    let text = page();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Read by the runtime and the SDK"))
        .unwrap_or_else(|| panic!("{PAGE}: no section \"Read by the runtime and the SDK\""));
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_per_section_and_only_from_settings_tables() {
        let page = "## A\n\n| Variable | Default | Range | Meaning |\n|---|---|---|---|\n| `X` | 1 | 1 | x |\n| `Y` | 1 | 1 | y |\n\n| Parameter | Variable |\n|---|---|\n| `P` | `X` |\n\n## B\n| Variable | Default | Range | Meaning |\n|---|---|---|---|\n| `X` | 1 | 1 | again |\n";
        let tables = parse(page);
        assert_eq!(tables["A"], ["X", "Y"]);
        assert_eq!(tables["B"], ["X"]);
    }
}
