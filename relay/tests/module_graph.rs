//! The relay's server modules import downward only: `connection` →
//! `dispatch` → `handlers` → leaves (`request`, `route`, `authz`,
//! `agent_link`, `transfer`, `registry`, …). Two files that import each
//! other are one idea, or they need a leaf module between them.
//!
//! This reads every `src/server/**/*.rs`, collects the references from one
//! server module to another (`use super::…`, `super::x::f()`,
//! `crate::server::…`, a parent naming its child `child::…`, also inside
//! macros) and fails naming every cycle it finds.
//!
//! References to items of the server root itself (`src/server/mod.rs`:
//! `Shared`, the state every request runs against) are not edges: the root
//! only declares the modules, holds that state and wires `start` and
//! `RelayHandle` to them.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A module below `crate::server`; empty is the server root.
type Module = Vec<String>;

/// One file's module references: target file module → the paths that name it.
type Edges = BTreeMap<Module, BTreeMap<Module, BTreeSet<String>>>;

fn show(module: &Module) -> String {
    if module.is_empty() {
        "server".into()
    } else {
        module.join("::")
    }
}

/// The module a file is by its place on disk (`a/mod.rs` → `a`, `a/b.rs` → `a::b`).
fn module_of(relative: &Path) -> Module {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

fn is_path_sep(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
    )
}

fn ident(token: Option<&TokenTree>) -> Option<String> {
    match token {
        Some(TokenTree::Ident(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// `#[path = "x.rs"]` → `x.rs`.
fn path_attribute(group: &TokenStream) -> Option<String> {
    let tokens: Vec<TokenTree> = group.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Ident(name), TokenTree::Punct(eq), TokenTree::Literal(lit)]
            if name == "path" && eq.as_char() == '=' =>
        {
            Some(lit.to_string().trim_matches('"').to_string())
        }
        _ => None,
    }
}

/// The modules a file declares: inline ones (`mod tests { … }`) and files
/// placed with `#[path]`, each with its module path.
fn declared(
    tokens: TokenStream,
    module: &Module,
    inline: &mut BTreeSet<Module>,
    placed: &mut Vec<(String, Module)>,
) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut pending_path = None;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
                if let Some(p) = path_attribute(&g.stream()) {
                    pending_path = Some(p);
                }
            }
            TokenTree::Ident(word) if word == "mod" => {
                let Some(name) = ident(tokens.get(i + 1)) else {
                    continue;
                };
                let mut child = module.clone();
                child.push(name);
                match tokens.get(i + 2) {
                    Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => {
                        inline.insert(child.clone());
                        declared(body.stream(), &child, inline, placed);
                    }
                    _ => {
                        if let Some(p) = pending_path.take() {
                            placed.push((p, child));
                        }
                    }
                }
                pending_path = None;
            }
            TokenTree::Group(g) => declared(g.stream(), module, inline, placed),
            _ => {}
        }
    }
}

struct Graph {
    /// Modules that are files.
    files: BTreeSet<Module>,
    /// Every module: files and inline ones.
    known: BTreeSet<Module>,
    edges: Edges,
}

impl Graph {
    /// The file a module is written in: the longest file module above it.
    fn file_of(&self, module: &Module) -> Module {
        let mut m = module.clone();
        while !self.files.contains(&m) && !m.is_empty() {
            m.pop();
        }
        m
    }

    fn add(&mut self, from_file: &Module, to: &Module, path: String) {
        let to = self.file_of(to);
        if &to == from_file || to.is_empty() {
            return;
        }
        self.edges
            .entry(from_file.clone())
            .or_default()
            .entry(to)
            .or_default()
            .insert(path);
    }

    /// Follows module names from `base` as far as they go.
    fn descend(&self, mut base: Module, segments: &[String]) -> (Module, usize) {
        let mut used = 0;
        for s in segments {
            let mut next = base.clone();
            next.push(s.clone());
            if !self.known.contains(&next) {
                break;
            }
            base = next;
            used += 1;
        }
        (base, used)
    }

    /// Where a path starting with `segments` (and maybe a `{…}` use group) leads.
    fn resolve(
        &mut self,
        file: &Module,
        here: &Module,
        segments: &[String],
        group: Option<TokenStream>,
        text: &str,
    ) {
        let mut base = here.clone();
        let mut rest = segments;
        match segments.first().map(String::as_str) {
            Some("crate") => {
                if segments.get(1).map(String::as_str) != Some("server") {
                    return;
                }
                base.clear();
                rest = &segments[2..];
            }
            Some("super" | "self") => {
                let mut i = 0;
                while let Some(s) = segments.get(i) {
                    match s.as_str() {
                        "super" => {
                            if base.pop().is_none() {
                                // Above the server: not a server module.
                                return;
                            }
                        }
                        "self" => {}
                        _ => break,
                    }
                    i += 1;
                }
                rest = &segments[i..];
            }
            // A parent naming its child module (`connection::handle`).
            Some(_) => {}
            None => return,
        }
        let (target, used) = self.descend(base, rest);
        self.add(file, &target, text.to_string());
        if let (Some(group), true) = (group, used == rest.len()) {
            for part in split_commas(group) {
                let c = chain(&part, 0);
                if c.segments.is_empty() {
                    continue;
                }
                let text = format!("{text}::{}", c.segments.join("::"));
                let mut relative = vec!["self".to_string()];
                relative.extend(c.segments);
                self.resolve(file, &target, &relative, c.group, &text);
            }
        }
    }

    fn scan(&mut self, tokens: TokenStream, file: &Module, here: &Module) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Ident(word) if word == "mod" => {
                    if let (Some(name), Some(TokenTree::Group(body))) =
                        (ident(tokens.get(i + 1)), tokens.get(i + 2))
                    {
                        if body.delimiter() == Delimiter::Brace {
                            let mut child = here.clone();
                            child.push(name);
                            self.scan(body.stream(), file, &child);
                            i += 3;
                            continue;
                        }
                    }
                }
                TokenTree::Ident(_) if i == 0 || !is_path_sep(&tokens, i.saturating_sub(2)) => {
                    let Chain {
                        segments,
                        group,
                        glob,
                        end,
                    } = chain(&tokens, i);
                    let first = segments[0].as_str();
                    let child_of_here = {
                        let mut m = here.clone();
                        m.push(first.to_string());
                        self.known.contains(&m)
                    };
                    let starts_path = matches!(first, "crate" | "super" | "self") || child_of_here;
                    if starts_path && (segments.len() > 1 || group.is_some() || glob) {
                        let text = segments.join("::");
                        self.resolve(file, here, &segments, group, &text);
                        i = end;
                        continue;
                    }
                }
                TokenTree::Group(g) => self.scan(g.stream(), file, here),
                _ => {}
            }
            i += 1;
        }
    }
}

/// A path as written: `a::b::c`, maybe ending in a `{…}` use group or `*`.
struct Chain {
    segments: Vec<String>,
    group: Option<TokenStream>,
    glob: bool,
    /// The index after it.
    end: usize,
}

fn chain(tokens: &[TokenTree], start: usize) -> Chain {
    let mut c = Chain {
        segments: Vec::new(),
        group: None,
        glob: false,
        end: start + 1,
    };
    let Some(first) = ident(tokens.get(start)) else {
        return c;
    };
    c.segments.push(first);
    let mut j = start + 1;
    while is_path_sep(tokens, j) {
        match tokens.get(j + 2) {
            Some(TokenTree::Ident(i)) => {
                c.segments.push(i.to_string());
                j += 3;
            }
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                c.group = Some(g.stream());
                j += 3;
                break;
            }
            Some(TokenTree::Punct(p)) if p.as_char() == '*' => {
                c.glob = true;
                j += 3;
                break;
            }
            _ => break,
        }
    }
    c.end = j;
    c
}

fn split_commas(group: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut parts = vec![Vec::new()];
    for token in group {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(Vec::new()),
            _ => parts.last_mut().map_or((), |part| part.push(token)),
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// The module graph of the given sources (paths relative to `src/server`).
fn graph(sources: &[(PathBuf, String)]) -> Graph {
    let parsed: Vec<(PathBuf, TokenStream)> = sources
        .iter()
        .map(|(path, text)| {
            let tokens = TokenStream::from_str(text)
                .unwrap_or_else(|e| panic!("{} does not tokenize: {e:?}", path.display()));
            (path.clone(), tokens)
        })
        .collect();
    let mut modules: BTreeMap<PathBuf, Module> = parsed
        .iter()
        .map(|(path, _)| (path.clone(), module_of(path)))
        .collect();
    // Files placed with `#[path]` (e.g. `transfer_tests.rs` as
    // `transfer::tests`) first, then the inline modules of every file.
    let mut inline = BTreeSet::new();
    for (path, tokens) in &parsed {
        let mut placed = Vec::new();
        declared(tokens.clone(), &modules[path], &mut inline, &mut placed);
        let dir = path.parent().unwrap_or(Path::new(""));
        for (file, module) in placed {
            modules.insert(dir.join(file), module);
        }
    }
    inline.clear();
    for (path, tokens) in &parsed {
        declared(tokens.clone(), &modules[path], &mut inline, &mut Vec::new());
    }
    let files: BTreeSet<Module> = modules.values().cloned().collect();
    let mut known = files.clone();
    known.extend(inline);
    let mut g = Graph {
        files,
        known,
        edges: Edges::new(),
    };
    for (path, tokens) in parsed {
        let module = modules[&path].clone();
        g.scan(tokens, &module, &module);
    }
    g
}

/// Every cycle, one per knot of modules that reach each other (shortest
/// through the knot's first module), with the references that close it.
fn cycles(g: &Graph) -> Vec<String> {
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in g.edges.get(&m).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut done: BTreeSet<Module> = BTreeSet::new();
    let mut found = Vec::new();
    for start in g.edges.keys() {
        if done.contains(start) || !reach(start).contains(start) {
            continue;
        }
        // The knot: modules `start` reaches that reach it back.
        let knot: BTreeSet<Module> = reach(start)
            .into_iter()
            .filter(|m| reach(m).contains(start))
            .collect();
        done.extend(knot.iter().cloned());
        // Shortest way round, breadth first.
        let mut came_from: BTreeMap<Module, Module> = BTreeMap::new();
        let mut frontier = vec![start.clone()];
        'search: while !frontier.is_empty() {
            let mut next_frontier = Vec::new();
            for m in frontier {
                for next in g.edges.get(&m).into_iter().flat_map(|e| e.keys()) {
                    if !knot.contains(next) || came_from.contains_key(next) {
                        continue;
                    }
                    came_from.insert(next.clone(), m.clone());
                    if next == start {
                        break 'search;
                    }
                    next_frontier.push(next.clone());
                }
            }
            frontier = next_frontier;
        }
        let mut ring = vec![start.clone()];
        let mut at = came_from[start].clone();
        while &at != start {
            ring.push(at.clone());
            at = came_from[&at].clone();
        }
        ring.push(start.clone());
        ring.reverse();
        let steps: Vec<String> = ring
            .windows(2)
            .map(|w| {
                let why: Vec<&str> = g.edges[&w[0]][&w[1]].iter().map(String::as_str).collect();
                format!("  {} → {} ({})", show(&w[0]), show(&w[1]), why.join(", "))
            })
            .collect();
        let names: Vec<String> = ring.iter().map(show).collect();
        let members: Vec<String> = knot.iter().map(show).collect();
        found.push(format!(
            "{}\n{}\n  (these reach each other: {})",
            names.join(" → "),
            steps.join("\n"),
            members.join(", ")
        ));
    }
    found
}

fn server_sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/server is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let relative = path.strip_prefix(&root).expect("below src/server");
                out.push((relative.to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn server_modules_import_each_other_in_one_direction_only() {
    let g = graph(&server_sources());
    // The scanner sees the references it must: otherwise no cycle is a
    // hollow pass.
    let connection = vec!["connection".to_string()];
    assert!(
        g.edges.get(&connection).is_some_and(|e| e.len() >= 3),
        "the scan found too few references from `connection`: {:?}",
        g.edges.get(&connection)
    );
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "server modules import each other in a circle; move what both need into a leaf module:\n{}",
        found.join("\n")
    );
}

fn sources(files: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect()
}

#[test]
fn a_circle_through_uses_paths_and_macros_is_named() {
    let g = graph(&sources(&[
        (
            "mod.rs",
            "mod a; mod b; mod c; pub struct Shared; fn f() { a::go(); }",
        ),
        ("a.rs", "use super::{b::{self, Thing}, Shared};"),
        (
            "b.rs",
            "fn f() { let _ = format!(\"{}\", super::c::NAME); }",
        ),
        ("c.rs", "fn g() { crate::server::a::go(); }"),
    ]));
    let found = cycles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a → b → c → a"), "{}", found[0]);
    assert!(
        found[0].contains("c → a (crate::server::a::go)"),
        "{}",
        found[0]
    );
    // Naming the root's own state (`Shared`) is no edge; the root's wiring is.
    assert!(g.edges.values().all(|to| !to.contains_key(&Vec::new())));
    assert!(g.edges[&Vec::new()].contains_key(&vec!["a".to_string()]));
}

#[test]
fn tests_nested_and_placed_modules_are_part_of_their_file() {
    let g = graph(&sources(&[
        ("mod.rs", "mod a; mod b; mod h;"),
        (
            "a.rs",
            "fn f() {} #[cfg(test)] #[path = \"a_tests.rs\"] mod tests; mod inner { use super::*; use super::super::b::X; }",
        ),
        ("a_tests.rs", "use super::*; const N: usize = super::super::b::N;"),
        ("b.rs", "pub const N: usize = 1;"),
        ("h/mod.rs", "mod t;"),
        ("h/t.rs", "use super::super::a::f; use super::Helper;"),
    ]));
    assert!(cycles(&g).is_empty());
    let edges = |from: &[&str]| -> Vec<String> {
        let from: Module = from.iter().map(|s| s.to_string()).collect();
        g.edges
            .get(&from)
            .map(|e| e.keys().map(show).collect())
            .unwrap_or_default()
    };
    assert_eq!(edges(&["a"]), ["b"]);
    assert_eq!(edges(&["a", "tests"]), ["a", "b"]);
    assert_eq!(edges(&["h", "t"]), ["a", "h"]);
}
