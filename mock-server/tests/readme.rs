//! The mock's README keeps up with its binary: every flag `mock-server --help` lists is in
//! `mock-server/README.md`, and every flag the README names in inline code still exists.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

/// Long flags as `--help` lists them (`  -p, --port <N>`, `      --tls`).
fn help_flags() -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            // A short form first (`-p, --port`): the long one follows it.
            let t = match t.strip_prefix('-') {
                Some(r) if !r.starts_with('-') => r.split_once(", ").map_or(t, |(_, rest)| rest),
                _ => t,
            };
            let name: String = t
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty() && name != "help" && name != "version").then(|| format!("--{name}"))
        })
        .collect()
}

/// Flags named in inline code spans that start with `--` (fenced blocks left out).
fn readme_flags() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    let mut out = BTreeSet::new();
    for (i, span) in prose.split('`').enumerate() {
        if i % 2 == 1 && span.starts_with("--") {
            for word in span.split([' ', ',', '=', '/']) {
                if let Some(name) = word.strip_prefix("--")
                    && !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    out.insert(format!("--{name}"));
                }
            }
        }
    }
    out
}

/// Every flag of `mock-server --help` is in the README, and the README names no flag that is
/// gone.
#[test]
fn the_readme_names_every_flag_and_no_other() {
    // Arrange / Act
    let (help, readme) = (help_flags(), readme_flags());
    // Assert
    assert!(help.len() > 20, "{help:?}");
    let missing: Vec<_> = help.difference(&readme).collect();
    assert!(
        missing.is_empty(),
        "in --help, not in mock-server/README.md: {missing:?}"
    );
    let gone: Vec<_> = readme.difference(&help).collect();
    assert!(
        gone.is_empty(),
        "in mock-server/README.md, not in --help: {gone:?}"
    );
}
