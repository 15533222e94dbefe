//! The documentation keeps up with the code: every flag `--help` lists is explained in
//! `docs/guide.md`, and every flag the guide names still exists.

use std::collections::BTreeSet;

use asyncbench::Cli;
use clap::CommandFactory;

/// Every long flag of every subcommand, hidden ones left out.
fn flags() -> BTreeSet<String> {
    let cli = Cli::command();
    let mut out = BTreeSet::new();
    for sub in cli.get_subcommands() {
        for a in sub.get_arguments() {
            if let Some(l) = a.get_long()
                && !a.is_hide_set()
                && l != "help"
            {
                out.insert(format!("--{l}"));
            }
        }
    }
    out
}

/// The guide without its fenced code blocks (commands there may be other tools').
fn guide_prose() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md")).unwrap();
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
}

/// The flags the prose names in inline code: `--flag`, `--flag VALUE`, `-c, --concurrency C`.
fn named_flags(prose: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, span) in prose.split('`').enumerate() {
        // Inline code that starts with a flag (`-c, --concurrency C` too).
        if i % 2 == 0 || !span.trim_start().starts_with('-') {
            continue;
        }
        for word in span.split([' ', ',', '=', '|', '(', ')']) {
            if let Some(name) = word.strip_prefix("--")
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                out.insert(format!("--{name}"));
            }
        }
    }
    out
}

/// Every flag in `--help` is in the guide's prose, in inline code.
#[test]
fn every_flag_in_help_is_in_the_guide() {
    // Arrange
    let prose = guide_prose();
    // Act
    let named = named_flags(&prose);
    // Assert
    let missing: Vec<String> = flags().into_iter().filter(|f| !named.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "flags --help lists that docs/guide.md does not: {missing:?}"
    );
}

/// Every flag the guide names in inline code is one the binary has.
#[test]
fn no_flag_in_the_guide_is_gone() {
    // Arrange
    let known = flags();
    // Act
    let named = named_flags(&guide_prose());
    // Assert
    assert!(named.len() > 40, "the guide's flags were read: {named:?}");
    let gone: Vec<&String> = named
        .iter()
        .filter(|f| !known.contains(*f) && *f != "--help")
        .collect();
    assert!(
        gone.is_empty(),
        "flags docs/guide.md names that the binary does not have: {gone:?}"
    );
}
