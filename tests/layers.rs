//! The architecture as a test: the top-level modules of each crate form no import cycle, the
//! harness's layers import only the layers below them, and `model` imports nothing else in the
//! crate (ARCHITECTURE.md draws the same picture).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The harness's layers, lowest first: each may import itself and those before it.
const LAYERS: [&str; 7] = ["model", "stats", "cli", "plan", "engine", "output", "commands"];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The text of a source file without comments and without items under `#[cfg(test)]` (tests
/// may reach across layers; the code they test may not).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        if t.starts_with("#[cfg(test)]") {
            // Skip the item that follows: up to its closing brace (or `;`) at depth 0.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                for c in l.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth == 0) || (!opened && l.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(line.split(" // ").next().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The crate's top-level modules each file's code names through `crate::…`, by top-level
/// module of the file: `use crate::a::…`, `crate::a::f()`, and `use crate::{a::…, b::…}`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(src) {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel
            .iter()
            .next()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let code = code(&std::fs::read_to_string(&file).unwrap());
        let deps = graph.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                // The first segment of each path at the group's top level.
                let mut depth = 0;
                let mut names = Vec::new();
                let mut at_start = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => at_start = true,
                        c if at_start && !c.is_whitespace() => {
                            at_start = false;
                            let word: String = group[j..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            names.push(&group[j..j + word.len()]);
                        }
                        _ => {}
                    }
                }
                names
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                vec![&rest[..end]]
            };
            for n in names {
                if !n.is_empty() && n != top && n != "self" {
                    deps.insert(n.to_owned());
                }
            }
        }
    }
    graph
}

/// A cycle in the graph, if there is one (as the path that closes it).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `model` names nothing else in the crate: the data model reads alone.
#[test]
fn the_model_imports_nothing_else_in_the_crate() {
    // Arrange / Act
    let graph = imports(&root().join("src"));
    // Assert
    let model = graph.get("model").expect("src/model exists");
    assert!(model.is_empty(), "model imports {model:?}");
}

/// Each layer of the harness imports only the layers below it, so the top-level modules are
/// exactly the layers and form no cycle.
#[test]
fn each_layer_imports_only_the_layers_below_it() {
    // Arrange / Act
    let graph = imports(&root().join("src"));
    // Assert
    let tops: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    assert_eq!(
        tops,
        LAYERS.into_iter().collect(),
        "the top-level modules are the layers"
    );
    for (module, deps) in &graph {
        let level = LAYERS.iter().position(|l| l == module).unwrap();
        for d in deps {
            let below = LAYERS.iter().position(|l| l == d);
            assert!(
                below.is_some_and(|b| b < level),
                "{module} imports {d}, which is not a layer below it"
            );
        }
    }
    assert_eq!(cycle(&graph), None);
}

/// The mock's top-level modules form no import cycle either.
#[test]
fn the_mocks_modules_form_no_cycle() {
    // Arrange / Act
    let graph = imports(&root().join("mock-server/src"));
    // Assert
    assert!(graph.len() > 5, "the mock's modules were read: {graph:?}");
    assert_eq!(cycle(&graph), None, "{graph:?}");
}

/// The checker itself finds a cycle and a grouped import (so a pass above means something).
#[test]
fn the_checker_sees_grouped_imports_and_cycles() {
    // Arrange
    let text = "use crate::{a::X, b::{c, d}};\n// crate::e::f\n#[cfg(test)]\nmod tests {\n    use crate::g;\n}\nfn f() { crate::h::g(); }\n";
    // Act
    let code = code(text);
    // Assert
    assert!(!code.contains("crate::e") && !code.contains("crate::g"), "{code}");
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycle(&graph), Some(vec!["a".into(), "b".into(), "a".into()]));
    graph.insert("b".to_owned(), BTreeSet::new());
    assert_eq!(cycle(&graph), None);
}

/// ARCHITECTURE.md draws the layers the code has, in the same order.
#[test]
fn the_architecture_page_draws_these_layers() {
    // Arrange
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    // Act: the first fenced block's lines that name something (the arrows between them skipped).
    let block = text.split("```").nth(1).expect("a picture of the layers");
    let drawn: Vec<&str> = block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    // Assert
    assert_eq!(drawn, LAYERS);
}

/// Only `model` is public as a module: every other layer is `pub(crate)`, so what a library
/// caller sees is the model and what the crate root exports (ARCHITECTURE.md, "What is
/// public").
#[test]
fn only_the_model_is_a_public_module() {
    // Arrange
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    // Act
    let declared: Vec<(&str, &str)> = lib
        .lines()
        .filter_map(|l| {
            let (vis, rest) = l.split_once(" mod ")?;
            Some((vis, rest.strip_suffix(';')?))
        })
        .filter(|(vis, _)| vis.starts_with("pub"))
        .collect();
    // Assert
    for layer in LAYERS {
        let vis = declared.iter().find(|(_, m)| *m == layer).map(|(v, _)| *v);
        let want = if layer == "model" { "pub" } else { "pub(crate)" };
        assert_eq!(vis, Some(want), "{layer} is declared {vis:?}");
    }
}
